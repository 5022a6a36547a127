package dev.salient.server;

import java.util.List;
import java.util.Optional;

/**
 * The process's cores split in two: {@code server} runs everything but the engines (gRPC and
 * HTTP/2, decoding, the actors, the JVM's GC and JIT compilers), {@code engines} runs the device
 * workers' engine threads and the OpenMP threads they start.
 */
public record CoreSplit(List<Integer> server, List<Integer> engines) {
  /** Checks that both sides have cores and share none. */
  public CoreSplit {
    server = List.copyOf(server);
    engines = List.copyOf(engines);
    if (server.isEmpty() || engines.isEmpty()) {
      throw new IllegalArgumentException("both sides of a core split need a core: " + server
          + " / " + engines);
    }
    if (server.stream().anyMatch(engines::contains)) {
      throw new IllegalArgumentException("a core split's sides share a core: " + server + " / "
          + engines);
    }
  }

  /**
   * The first {@code serverCores} of the {@code allowed} cores for the server, the rest for the
   * engines; empty when that leaves the engines none.
   */
  public static Optional<CoreSplit> of(List<Integer> allowed, int serverCores) {
    if (serverCores < 1 || allowed.size() <= serverCores) {
      return Optional.empty();
    }
    return Optional.of(new CoreSplit(allowed.subList(0, serverCores),
        allowed.subList(serverCores, allowed.size())));
  }
}
