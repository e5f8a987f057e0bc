/**
 * Errors a user can cause. Each carries its exit code; src/cli/run-command.ts is the one
 * place that turns them into a one-line message and a process exit code.
 */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export class BakeError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
  /** The single line printed to the user. */
  toLine(): string {
    return this.message;
  }
}

/** Bad input in a file the user wrote: printed as `path:line:col: message`. */
export class RecipeError extends BakeError {
  constructor(
    message: string,
    readonly location: SourceLocation,
  ) {
    super(message);
  }
  override toLine(): string {
    const { file, line, col } = this.location;
    return `${file}:${line}:${col}: ${this.message}`;
  }
}

/** Several problems found in one pass (validate reports all of them, not just the first). */
export class RecipeErrors extends BakeError {
  constructor(readonly errors: RecipeError[]) {
    super(errors.map((e) => e.toLine()).join('\n'));
  }
  override toLine(): string {
    return this.errors.map((e) => e.toLine()).join('\n');
  }
}

/** A flag or argument that makes no sense. */
export class UsageError extends BakeError {}

/** A tfvars file bake refuses to touch (does not parse, value of the wrong shape…). */
export class TfvarsError extends BakeError {
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(message);
  }
  override toLine(): string {
    return this.line ? `${this.file}:${this.line}: ${this.message}` : `${this.file}: ${this.message}`;
  }
}

/** EC2 said no, or an expected image is not there. */
export class CloudError extends BakeError {}

/** A packer/ansible run or a verify check failed. */
export class BuildFailure extends BakeError {}
