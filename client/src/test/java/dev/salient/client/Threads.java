package dev.salient.client;

import java.util.List;
import java.util.stream.Collectors;

/** Finds threads an actor system left behind. */
public final class Threads {

  private Threads() {}

  /** Live non-daemon threads named {@code prefix*} still there after up to five seconds. */
  public static List<String> lingering(String prefix) throws InterruptedException {
    // Dispatcher threads stop shortly after the system reports termination.
    List<String> left = live(prefix);
    for (int i = 0; i < 50 && !left.isEmpty(); i++) {
      Thread.sleep(100);
      left = live(prefix);
    }
    return left;
  }

  private static List<String> live(String prefix) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && !t.isDaemon() && t.getName().startsWith(prefix))
        .map(Thread::getName)
        .collect(Collectors.toList());
  }
}
