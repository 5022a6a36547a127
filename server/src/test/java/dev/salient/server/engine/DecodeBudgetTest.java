package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** The decode budget: bytes of pixel memory that the images decoded at once may hold. */
class DecodeBudgetTest {
  private static final long MIB = 1024 * 1024;

  @Test
  void anImageLargerThanTheWholeBudgetIsRefusedAtOnceNamingTheKey() {
    DecodeBudget budget = new DecodeBudget(10 * MIB, Duration.ofHours(1));

    long started = System.nanoTime();
    var refused = assertThrows(SalientException.CapacityExceeded.class,
        () -> budget.reserve(11 * MIB, "this 2000x2000 PNG"));

    assertTrue(System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5), "refused without waiting");
    assertTrue(refused.getMessage().contains("salient.limits.decode-budget"), refused.getMessage());
    assertTrue(refused.getMessage().contains("this 2000x2000 PNG"), refused.getMessage());
  }

  @Test
  void aDecodeThatDoesNotFitWaitsUntilAnotherReturnsItsBytes() throws Exception {
    DecodeBudget budget = new DecodeBudget(10 * MIB, Duration.ofSeconds(30));
    DecodeBudget.Reservation first = budget.reserve(6 * MIB, "first");

    CompletableFuture<DecodeBudget.Reservation> second =
        CompletableFuture.supplyAsync(() -> budget.reserve(6 * MIB, "second"));
    assertThrows(TimeoutException.class, () -> second.get(200, TimeUnit.MILLISECONDS),
        "the second decode waits while the first holds the budget");
    first.close();

    second.get(10, TimeUnit.SECONDS).close();
    assertEquals(6 * MIB, budget.peakBytesInUse());
    assertEquals(0, budget.bytesInUse());
  }

  @Test
  void aDecodeStillWaitingAtTheEndOfTheWaitIsRefusedWithRetry() {
    DecodeBudget budget = new DecodeBudget(10 * MIB, Duration.ofMillis(50));
    budget.reserve(8 * MIB, "held");

    var refused = assertThrows(SalientException.CapacityExceeded.class,
        () -> budget.reserve(4 * MIB, "waiting"));

    assertTrue(refused.getMessage().startsWith("decode budget exhausted"), refused.getMessage());
    assertTrue(refused.getMessage().contains("retry"), refused.getMessage());
    assertTrue(refused.getMessage().contains("salient.limits.decode-budget-wait"),
        refused.getMessage());
  }

  @Test
  void closingAReservationTwiceReturnsItsBytesOnce() {
    DecodeBudget budget = new DecodeBudget(10 * MIB, Duration.ZERO);
    DecodeBudget.Reservation held = budget.reserve(4 * MIB, "image");
    budget.reserve(4 * MIB, "other");

    held.close();
    held.close();

    assertEquals(4 * MIB, budget.bytesInUse());
    assertThrows(SalientException.CapacityExceeded.class, () -> budget.reserve(7 * MIB, "big"));
  }

  @Test
  void theBudgetWithoutWaitingSharesTheBytesAndRefusesAtOnceWhatDoesNotFit() {
    DecodeBudget budget = new DecodeBudget(10 * MIB, Duration.ofHours(1));
    DecodeBudget engines = budget.withoutWaiting();
    DecodeBudget.Reservation held = budget.reserve(8 * MIB, "held");

    long started = System.nanoTime();
    var refused = assertThrows(SalientException.CapacityExceeded.class,
        () -> engines.reserve(4 * MIB, "this baseline"));
    long refusedAfter = System.nanoTime() - started;
    engines.reserve(2 * MIB, "a small one").close();
    held.close();

    assertTrue(refusedAfter < TimeUnit.SECONDS.toNanos(5), "refused without waiting");
    assertTrue(refused.getMessage().startsWith("decode budget exhausted"), refused.getMessage());
    assertEquals(10 * MIB, budget.peakBytesInUse());
    assertEquals(0, budget.bytesInUse());
  }
}
