package dev.salient.client.cli;

import dev.salient.client.ExplainListener;
import dev.salient.client.SalientClient;
import dev.salient.client.figures.Explanation;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Frame;
import dev.salient.grpc.Result;
import dev.salient.grpc.Started;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code explain --method a,b,c}: one Explain request per method, all in flight at once, so the
 * server's device worker batches their passes together; each stream is collected whole and the
 * caller prints them in the order the methods were named.
 */
final class SeveralMethods {

  private SeveralMethods() {}

  /** The methods of a {@code --method} value: comma-separated names, each once. */
  static List<String> parse(String option) {
    LinkedHashSet<String> names = new LinkedHashSet<>();
    for (String part : option.split(",", -1)) {
      String name = part.trim();
      if (name.isEmpty()) {
        throw new IllegalArgumentException("--method has an empty name in \"" + option + "\"");
      }
      if (!names.add(name)) {
        throw new IllegalArgumentException("--method names " + name + " twice");
      }
    }
    return List.copyOf(names);
  }

  /**
   * The parameters for {@code method}: {@code METHOD.KEY=VALUE} goes to that method only (as
   * {@code KEY}); a key without a method's prefix goes to every method.
   */
  static Map<String, String> parametersFor(
      String method, List<String> methods, Map<String, String> params) {
    Map<String, String> out = new LinkedHashMap<>();
    params.forEach(
        (key, value) -> {
          int dot = key.indexOf('.');
          String prefix = dot < 0 ? null : key.substring(0, dot);
          if (prefix == null || !methods.contains(prefix)) {
            out.put(key, value);
          } else if (prefix.equals(method)) {
            out.put(key.substring(dot + 1), value);
          }
        });
    return out;
  }

  /** Runs every request at once; returns their explanations in the requests' order. */
  static List<Explanation> explain(
      ClientSession session, Optional<Duration> deadline, List<ExplainRequest> requests) {
    SalientClient client = session.client();
    List<Collector> collectors = new ArrayList<>();
    List<CompletionStage<Result>> calls = new ArrayList<>();
    for (ExplainRequest request : requests) {
      Collector collector = new Collector();
      collectors.add(collector);
      calls.add(
          deadline
              .map(d -> client.explain(request, d, collector))
              .orElseGet(() -> client.explain(request, collector)));
    }
    List<Explanation> explanations = new ArrayList<>();
    for (int i = 0; i < requests.size(); i++) {
      Result result = session.await(calls.get(i));
      Collector c = collectors.get(i);
      explanations.add(new Explanation(c.started.get(), c.frames, result));
    }
    return explanations;
  }

  /** One stream's started event and frames. */
  private static final class Collector implements ExplainListener {
    final AtomicReference<Started> started = new AtomicReference<>();
    final List<Frame> frames = Collections.synchronizedList(new ArrayList<>());

    @Override
    public void onEvent(dev.salient.grpc.ExplainEvent event) {
      if (event.hasStarted()) {
        started.set(event.getStarted());
      } else if (event.hasFrame()) {
        frames.add(event.getFrame());
      }
    }
  }
}
