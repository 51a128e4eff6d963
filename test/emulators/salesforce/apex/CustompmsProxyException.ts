/**
 * Mirrors force-app/main/default/classes/CustompmsProxyException.cls, line for line.
 */
import { ApexException } from './runtime';

export class CustompmsProxyException extends ApexException {
  private statusCode = 0;

  constructor(message: string, cause?: unknown) {
    super('CustompmsProxyException', message, cause);
  }

  static forStatus(statusCode: number, message: string): CustompmsProxyException {
    const error = new CustompmsProxyException(message);
    error.statusCode = statusCode;
    return error;
  }

  getStatusCode(): number {
    return this.statusCode;
  }

  isRetryable(): boolean {
    return (
      this.statusCode === 0 || this.statusCode === 408 || this.statusCode === 429 || this.statusCode >= 500
    );
  }
}
