/** An error EC2 itself would return: a code clients switch on, and HTTP 400 unless said otherwise. */
export class Ec2ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2ApiError';
  }
}

export function notFound(code: string, what: string, id: string): Ec2ApiError {
  return new Ec2ApiError(code, `The ${what} '${id}' does not exist`);
}
