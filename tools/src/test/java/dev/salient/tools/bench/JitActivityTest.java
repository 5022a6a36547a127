package dev.salient.tools.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Reading the JIT compiler threads' CPU time from /proc lines. */
class JitActivityTest {
  private static final String REST =
      " S 4200 4200 7277 0 -1 1077936192 1234 0 0 0 153 27 0 0 20 0 1 0 3767388 2998272 393";

  @Test
  void compilerThreadTicksAreItsUserPlusSystemTime() {
    assertEquals(180, JitActivity.compilerThreadTicks("4242 (C2 CompilerThre)" + REST));
    assertEquals(180, JitActivity.compilerThreadTicks("4243 (C1 CompilerThre)" + REST));
  }

  @Test
  void otherThreadsAreNotCounted() {
    assertEquals(-1, JitActivity.compilerThreadTicks("4244 (GC Thread#0)" + REST));
    // A thread may name itself with spaces and parentheses; the name ends at the last ')'.
    assertEquals(-1, JitActivity.compilerThreadTicks("4245 (x) (C2 CompilerThre)" + REST));
  }
}
