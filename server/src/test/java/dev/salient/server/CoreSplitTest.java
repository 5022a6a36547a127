package dev.salient.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Splitting the process's cores between the engines and the rest of the server. */
class CoreSplitTest {

  @Test
  void theServerTakesTheFirstCoresAndTheEnginesTheRest() {
    assertEquals(Optional.of(new CoreSplit(List.of(0), List.of(1))),
        CoreSplit.of(List.of(0, 1), 1));
    assertEquals(Optional.of(new CoreSplit(List.of(2, 5), List.of(7, 9))),
        CoreSplit.of(List.of(2, 5, 7, 9), 2));
  }

  @Test
  void noSplitWhenItWouldLeaveTheEnginesNoCore() {
    assertTrue(CoreSplit.of(List.of(0), 1).isEmpty());
    assertTrue(CoreSplit.of(List.of(0, 1), 2).isEmpty());
    assertTrue(CoreSplit.of(List.of(0, 1), 0).isEmpty());
  }

  @Test
  void sidesMustHaveCoresAndShareNone() {
    assertThrows(IllegalArgumentException.class, () -> new CoreSplit(List.of(), List.of(1)));
    assertThrows(IllegalArgumentException.class, () -> new CoreSplit(List.of(0, 1), List.of(1)));
  }
}
