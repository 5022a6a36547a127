package dev.salient.server;

import dev.salient.server.auth.Tokens;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ./salient token NAME}: mints a bearer token and prints it, with the line that lets it in
 * for the server's tokens file. Only the line's hash is kept by the server.
 */
@Command(name = "token", mixinStandardHelpOptions = true,
    description = "Mint a bearer token for a client and print the line for "
        + "salient.auth.tokens-file.")
public final class TokenCommand implements Callable<Integer> {

  @Parameters(paramLabel = "NAME", description = "The client's name (letters, digits, . _ @ -), "
      + "used in the access log and for its quota.")
  String name;

  @Option(names = "--models", split = ",", paramLabel = "MODEL",
      description = "Allow only these models (default: every model).")
  List<String> models;

  @Spec
  CommandLine.Model.CommandSpec spec;

  /** Runs the command line. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new TokenCommand()).execute(args));
  }

  @Override
  public Integer call() {
    String token = Tokens.mint();
    String line = name + " " + Tokens.hash(token)
        + (models == null || models.isEmpty() ? "" : " " + Tokens.MODELS + String.join(",", models));
    try {
      Tokens.parse(line, "the line");
    } catch (IllegalArgumentException e) {
      spec.commandLine().getErr().println("salient token: " + e.getMessage());
      return 2;
    }
    PrintWriter out = spec.commandLine().getOut();
    out.println("token (give it to the client; it is not stored anywhere): " + token);
    out.println("line for salient.auth.tokens-file:");
    out.println(line);
    out.flush();
    return 0;
  }
}
