package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code ./salient serve}: a bad setting ends it with one line that names the setting. */
class MainTest {

  private static String stderrOf(Runnable run) {
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      run.run();
    } finally {
      System.setErr(original);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aCpuWorkerCountThatIsNotANumberExitsWithTheKeyToFixAndNoStackTrace() {
    int[] exit = new int[1];
    String err = stderrOf(() -> exit[0] =
        new CommandLine(new Main()).execute("--port", "0", "--cpu-workers", "lots"));
    assertEquals(2, exit[0]);
    assertTrue(err.startsWith("salient: bad configuration: salient.cpu-workers"), err);
    assertTrue(!err.contains("\tat "), "no stack trace: " + err);
  }

  @Test
  void theCpuNamedTwiceExitsWithTheSettingToUseInstead() {
    int[] exit = new int[1];
    String err = stderrOf(() -> exit[0] =
        new CommandLine(new Main()).execute("--port", "0", "--devices", "cpu,cpu"));
    assertEquals(2, exit[0]);
    assertTrue(err.contains("--cpu-workers"), err);
  }

  @Test
  void servingPlaintextOnAllAddressesExitsNamingTheFlagThatAllowsIt() {
    int[] exit = new int[1];
    String err = stderrOf(() -> exit[0] =
        new CommandLine(new Main()).execute("--port", "0", "--host", "0.0.0.0"));
    assertEquals(1, exit[0]);
    assertTrue(err.startsWith("salient: cannot start: refusing to serve plaintext on 0.0.0.0"),
        err);
    assertTrue(err.contains("--allow-plaintext-on-network"), err);
  }
}
