package dev.salient.client.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ScopeType;

/** The command-line client: {@code salient explain | classify | models | stats | video}. */
@Command(
    name = "salient",
    mixinStandardHelpOptions = true,
    // Subcommands inherit -h/--help and -V/--version.
    scope = ScopeType.INHERIT,
    versionProvider = SalientCli.Version.class,
    description = "Explain image classifiers served by a Salient server.",
    subcommands = {ExplainCommand.class, ClassifyCommand.class, ModelsCommand.class,
        StatsCommand.class, VideoCommand.class},
    footer = {
      "",
      "Exit codes: 0 success, 1 failure (gRPC error, server unreachable, file problem),"
          + " 2 usage error."
    })
public final class SalientCli {

  /** Runs the command line and exits the JVM with its exit code. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new SalientCli()).execute(args));
  }

  /** The version from the jar manifest, or "development" when run from classes. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = SalientCli.class.getPackage().getImplementationVersion();
      return new String[] {"salient " + (v == null ? "development" : v)};
    }
  }
}
