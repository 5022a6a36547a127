package dev.salient.client.cli;

/** An expected failure the CLI reports as {@code error: <message>} with exit code 1. */
final class CliFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  CliFailure(String message) {
    super(message);
  }

  CliFailure(String message, Throwable cause) {
    super(message, cause);
  }
}
