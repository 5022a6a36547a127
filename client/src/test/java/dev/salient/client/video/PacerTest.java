package dev.salient.client.video;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PacerTest {

  private static final long MS = 1_000_000;

  @Test
  void framesAreDueAtStartPlusIOverFps() {
    Pacer pacer = Pacer.atRate(10);

    assertEquals(0, pacer.delayBeforeNext(1_000 * MS));
    assertEquals(100 * MS, pacer.delayBeforeNext(1_000 * MS));
    // Woken 5 ms early (or the previous frame took time): wait the rest.
    assertEquals(105 * MS, pacer.delayBeforeNext(1_095 * MS));
  }

  @Test
  void aLateFrameGoesAtOnceAndTheNextDoNotBurstToCatchUp() {
    Pacer pacer = Pacer.atRate(10);
    pacer.delayBeforeNext(0);

    // Frame 1 was due at 100 ms; it is 250 ms late.
    assertEquals(0, pacer.delayBeforeNext(350 * MS));
    // Frames 2 and 3 were due at 200 and 300 ms: they keep one interval after frame 1 instead.
    assertEquals(100 * MS, pacer.delayBeforeNext(350 * MS));
    assertEquals(100 * MS, pacer.delayBeforeNext(450 * MS));
  }

  @Test
  void unpacedNeverWaits() {
    Pacer pacer = Pacer.unpaced();

    for (int i = 0; i < 5; i++) {
      assertEquals(0, pacer.delayBeforeNext(7 * MS));
    }
  }
}
