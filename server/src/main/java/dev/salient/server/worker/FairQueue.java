package dev.salient.server.worker;

import dev.salient.server.engine.Pass;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * The ready jobs of one device worker and the choice of each engine call's jobs, fair between
 * models, between the clients of a model, and by priority with aging.
 *
 * <p>Fairness is start-time fair queueing on engine time. Each model has a tag: the engine time
 * it has had, divided by its share. The next call goes to the model with waiting work whose tag
 * is lowest; once the call has run, its time is added to the model's tag. A model that had no
 * work waiting comes back with its tag raised to that of the model last served, so it cannot
 * bank idle time, and it goes next: with two models, a model's pass waits at most one call of
 * the other (with n models, one call of each other model). Inside a model the same holds for its
 * clients, each charged its rows' part of the call's time. A call is filled round-robin across the
 * model's clients (every client's first ready job, then every client's second, ...), the client
 * with the least engine time first.
 *
 * <p>Priority comes before both: the model of the job with the highest effective priority goes
 * first, and inside a model the jobs of higher effective priority fill the call first. A job's
 * effective priority is its level (the model's, the request's own and, for live-video frames, the
 * video level), raised by one for every {@code priority-aging} it has waited, up to the highest
 * level waiting: a job of low priority that has waited that long competes as an equal again.
 *
 * <p>Owned by its worker's actor; not thread-safe.
 */
final class FairQueue {
  /** A ready job, and since when it has been ready ({@link System#nanoTime()}). */
  private record Waiting(Job job, long sinceNanos, int level) {}

  /**
   * One engine call: the jobs, the rows of each (all of its pending pass, or for the first job
   * possibly a first slice of it), and how long each had waited.
   */
  record Round(String model, List<Job> jobs, List<Pass> passes, long[] waitedNanos) {}

  private final SharingSettings sharing;
  private final List<Waiting> ready = new ArrayList<>();
  private final Map<String, Integer> readyByModel = new HashMap<>();
  private final Map<String, Integer> readyByClient = new HashMap<>();
  private final Map<String, Double> modelTags = new HashMap<>();
  /** Per model, its clients' tags. */
  private final Map<String, Map<String, Double>> clientTags = new HashMap<>();
  /** Per model, the tag of the client it served last. */
  private final Map<String, Double> clientTimes = new HashMap<>();
  /** The tag of the model served last; it never decreases. */
  private double virtualTime;

  FairQueue(SharingSettings sharing) {
    this.sharing = sharing;
  }

  /** Jobs ready. */
  int size() {
    return ready.size();
  }

  /** Jobs of {@code model} ready. */
  int size(String model) {
    return readyByModel.getOrDefault(model, 0);
  }

  boolean isEmpty() {
    return ready.isEmpty();
  }

  /** The ready jobs, in the order they became ready. */
  List<Job> jobs() {
    return ready.stream().map(Waiting::job).toList();
  }

  /** The job's priority level before aging. */
  int level(Job job) {
    return Math.min(job.priority(), sharing.maxRequestPriority())
        + sharing.of(job.modelName()).priority()
        + (job.liveFrame() ? sharing.videoPriority() : 0);
  }

  /** {@code job} is ready from {@code nowNanos}. */
  void add(Job job, long nowNanos) {
    String model = job.modelName();
    if (readyByModel.getOrDefault(model, 0) == 0) {
      modelTags.put(model, Math.max(modelTags.getOrDefault(model, 0.0), virtualTime));
    }
    String client = clientKey(job);
    if (readyByClient.getOrDefault(client, 0) == 0) {
      double now = clientTimes.getOrDefault(model, 0.0);
      clientTags.computeIfAbsent(model, m -> new HashMap<>())
          .merge(job.client(), now, Math::max);
    }
    readyByModel.merge(model, 1, Integer::sum);
    readyByClient.merge(client, 1, Integer::sum);
    ready.add(new Waiting(job, nowNanos, level(job)));
  }

  /** Takes {@code job} out, if it is ready. */
  void remove(Job job) {
    for (int i = 0; i < ready.size(); i++) {
      if (ready.get(i).job() == job) {
        taken(ready.remove(i));
        return;
      }
    }
  }

  private void taken(Waiting w) {
    readyByModel.merge(w.job().modelName(), -1, Integer::sum);
    readyByClient.merge(clientKey(w.job()), -1, Integer::sum);
  }

  private static String clientKey(Job job) {
    return job.modelName() + '\u0000' + job.client();
  }

  /**
   * Takes the jobs of the next engine call out of the queue: the first job's model, at most
   * {@code rowLimit} rows of it (the first job's pass sliced to that if it is larger), passes
   * that can share the call; null when no job is ready.
   */
  Round next(ToIntFunction<String> rowLimit, long nowNanos) {
    if (ready.isEmpty()) {
      return null;
    }
    int highest = ready.stream().mapToInt(Waiting::level).max().orElseThrow();
    Map<Waiting, Integer> effective = new HashMap<>();
    for (Waiting w : ready) {
      effective.put(w, effectiveLevel(w, highest, nowNanos));
    }
    // The model: the highest effective priority waiting, then the least engine time.
    Map<String, Integer> bestByModel = new HashMap<>();
    for (Waiting w : ready) {
      bestByModel.merge(w.job().modelName(), effective.get(w), Math::max);
    }
    String model = ready.stream().map(w -> w.job().modelName()).distinct()
        .min(Comparator.<String>comparingInt(m -> -bestByModel.get(m))
            .thenComparingDouble(modelTags::get))
        .orElseThrow();
    virtualTime = Math.max(virtualTime, modelTags.get(model));
    // Its jobs: highest effective priority first, then round-robin across clients, the client
    // with the least engine time first, then the longest waiting.
    Map<String, Double> tags = clientTags.get(model);
    Map<String, Integer> seen = new HashMap<>();
    Map<Waiting, Integer> turn = new HashMap<>();
    List<Waiting> candidates = new ArrayList<>();
    for (Waiting w : ready) {
      if (w.job().modelName().equals(model)) {
        turn.put(w, seen.merge(w.job().client(), 1, Integer::sum));
        candidates.add(w);
      }
    }
    candidates.sort(Comparator.<Waiting>comparingInt(w -> -effective.get(w))
        .thenComparingInt(turn::get)
        .thenComparingDouble(w -> tags.get(w.job().client()))
        .thenComparingLong(Waiting::sinceNanos));
    Waiting first = candidates.get(0);
    clientTimes.put(model, Math.max(clientTimes.getOrDefault(model, 0.0),
        tags.get(first.job().client())));
    int limit = Math.max(1, rowLimit.applyAsInt(model));
    Pass firstPass = first.job().pendingRows();
    if (firstPass.size() > limit) {
      firstPass = firstPass.slice(0, limit);
    }
    List<Waiting> chosen = new ArrayList<>(List.of(first));
    List<Pass> passes = new ArrayList<>(List.of(firstPass));
    int rows = firstPass.size();
    for (int i = 1; i < candidates.size() && rows < limit; i++) {
      Waiting w = candidates.get(i);
      Pass pass = w.job().pendingRows();
      if (firstPass.canShareCallWith(pass) && rows + pass.size() <= limit) {
        chosen.add(w);
        passes.add(pass);
        rows += pass.size();
      }
    }
    long[] waited = new long[chosen.size()];
    List<Job> jobs = new ArrayList<>(chosen.size());
    for (int i = 0; i < chosen.size(); i++) {
      Waiting w = chosen.get(i);
      ready.remove(w);
      taken(w);
      jobs.add(w.job());
      waited[i] = nowNanos - w.sinceNanos();
    }
    return new Round(model, jobs, passes, waited);
  }

  private int effectiveLevel(Waiting w, int highest, long nowNanos) {
    if (w.level() >= highest) {
      return w.level();
    }
    long aged = (nowNanos - w.sinceNanos()) / sharing.priorityAging().toNanos();
    return (int) Math.min(highest, w.level() + aged);
  }

  /**
   * Charges the engine time of {@code round}'s call ({@code nanos}) to its model, divided by
   * the model's share, and to the clients of its jobs, each by its rows ({@code rows[i]}).
   */
  void charge(Round round, int[] rows, long nanos) {
    String model = round.model();
    modelTags.merge(model, nanos / sharing.of(model).share(), Double::sum);
    int total = java.util.Arrays.stream(rows).sum();
    double now = clientTimes.getOrDefault(model, 0.0);
    Map<String, Double> tags = clientTags.computeIfAbsent(model, m -> new HashMap<>());
    for (int i = 0; i < rows.length; i++) {
      double cost = (double) nanos * rows[i] / total;
      tags.compute(round.jobs().get(i).client(), (c, tag) -> (tag == null ? now : tag) + cost);
    }
    // A client with nothing ready whose tag the model's time has reached would come back at
    // that time anyway: forget it, so tags are kept for recent clients only.
    tags.entrySet().removeIf(e -> e.getValue() <= now
        && readyByClient.getOrDefault(model + '\u0000' + e.getKey(), 0) == 0);
    readyByClient.values().removeIf(n -> n == 0);
  }
}
