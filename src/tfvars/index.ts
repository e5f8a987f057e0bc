export { editTfvars, isJsonTfvars, parseHclTfvars, parseJsonTfvars, type PinEdit } from './edit-tfvars.js';
export { hclString } from './hcl-literal.js';
