package dev.salient.tools.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * A short soak end to end: a server in process, a mix with many bad requests, every status the
 * one its kind must get. Memory is not judged over so few requests (--max-growth 1000). Tagged
 * "evaluation", as BenchTest is: it takes 45 to 100 s on two shared cores, so it runs in CI
 * ({@code -Pevaluation}), not in the quick {@code mvn verify}.
 */
@Tag("evaluation")
class SoakTest {

  @Test
  void aShortSoakWithManyBadRequestsGetsTheExpectedStatusForEach() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Soak soak = new Soak(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    int exit = new CommandLine(soak).execute("--requests", "120", "--warmup", "20",
        "--bad-percent", "40", "--max-growth", "1000", "--seed", "3");

    String out = bytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, exit, out);
    assertTrue(out.contains("soak: PASS: 0 unexplained statuses"), out);
    assertTrue(out.contains("bad huge_header") && out.contains("RESOURCE_EXHAUSTED"), out);
    assertTrue(out.contains("bad unknown_model") && out.contains("NOT_FOUND"), out);
    assertTrue(out.contains("soak: resident memory after warm-up"), out);
  }
}
