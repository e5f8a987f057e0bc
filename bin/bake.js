#!/usr/bin/env node
// bake supports Node 20 on purpose (the machines Jenkins agents have); the SDK's notice about
// its own future Node 22 floor would otherwise print on every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
await import('../dist/cli/main.js');
