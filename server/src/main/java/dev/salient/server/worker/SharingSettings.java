package dev.salient.server.worker;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a device worker shares its engine between models, clients and priorities (the
 * {@code salient.sharing} block).
 *
 * @param maxCallTime longest engine call a worker builds on purpose while another model shares
 *     it: it sizes each model's calls from the model's measured time per image so that one call
 *     stays under it (a single image that takes longer still runs, alone); zero: no bound
 * @param priorityAging a job that has waited this long counts one priority level higher, and one
 *     more per further period, up to the highest level waiting; must be positive
 * @param videoPriority priority of the frames of live-video streams, added to their model's
 * @param maxRequestPriority the most a request's own priority counts for (a request asking for
 *     more gets this): clients cannot put themselves ahead of live video unless allowed
 * @param models each model's share of engine time and priority, by model name; a model not
 *     named has share 1 and priority 0
 */
public record SharingSettings(Duration maxCallTime, Duration priorityAging, int videoPriority,
    int maxRequestPriority, Map<String, ModelShare> models) {

  /**
   * No bound on calls, equal shares, video frames and requests at most one level up, aging every
   * 100 ms.
   */
  public static final SharingSettings DEFAULT =
      new SharingSettings(Duration.ZERO, Duration.ofMillis(100), 1, 1, Map.of());

  /**
   * One model's part.
   *
   * @param share weight of the model's engine time against the others' (models with waiting work
   *     get engine time in proportion to their shares)
   * @param priority its requests' priority level (higher runs first; a request's own level adds)
   * @param workers the workers (by name, e.g. cpu-1) that take the model's requests; empty: any
   */
  public record ModelShare(double share, int priority, List<String> workers) {
    /** A model with no settings of its own. */
    public static final ModelShare EQUAL = new ModelShare(1, 0);

    /** A model placed on any worker. */
    public ModelShare(double share, int priority) {
      this(share, priority, List.of());
    }

    /** Checks the share and copies the workers. */
    public ModelShare {
      if (!(share > 0) || Double.isInfinite(share)) {
        throw new IllegalArgumentException("a model's share must be positive");
      }
      workers = List.copyOf(workers);
    }
  }

  /** Checks ranges and copies the map. */
  public SharingSettings {
    if (maxCallTime.isNegative()) {
      throw new IllegalArgumentException("salient.sharing.max-call-time must not be negative");
    }
    if (priorityAging.isZero() || priorityAging.isNegative()) {
      throw new IllegalArgumentException("salient.sharing.priority-aging must be positive");
    }
    models = Map.copyOf(models);
  }

  /** The settings of {@code model}. */
  public ModelShare of(String model) {
    return models.getOrDefault(model, ModelShare.EQUAL);
  }

  /** Reads {@code salient.sharing} from {@code salient}, the server's configuration section. */
  public static SharingSettings create(Config salient) {
    Config c = salient.getConfig("sharing");
    Map<String, ModelShare> models = new LinkedHashMap<>();
    Config byModel = c.getConfig("models");
    for (String name : byModel.root().keySet()) {
      Config m = byModel.getConfig(com.typesafe.config.ConfigUtil.quoteString(name))
          .withFallback(c.getConfig("model-defaults"));
      try {
        models.put(name, new ModelShare(m.getDouble("share"), m.getInt("priority"),
            m.getStringList("workers")));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("salient.sharing.models." + name + ": "
            + e.getMessage(), e);
      }
    }
    String bound = c.getString("max-call-time").trim();
    return new SharingSettings(
        bound.equalsIgnoreCase("off") ? Duration.ZERO : c.getDuration("max-call-time"),
        c.getDuration("priority-aging"), c.getInt("video-priority"),
        c.getInt("max-request-priority"), models);
  }
}
