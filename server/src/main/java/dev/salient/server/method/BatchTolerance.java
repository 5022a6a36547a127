package dev.salient.server.method;

import java.util.Set;

/**
 * How far a method's result may move when its passes share engine calls with other requests'
 * passes: the engine picks kernels by batch size, so a row's outputs differ by float rounding
 * (about 1e-7 relative) between a call of one image and a call of many. Discrete outputs (a best
 * step, a blurred set, a flipped flag, a competitor) must not move at all; see
 * docs/reproducibility.md for each method's decisions and how they are kept stable.
 *
 * @param maps largest difference of a map's value, as a share of the map's largest magnitude
 * @param values largest difference of a result value, as a share of {@code max(1, |value|)}
 * @param exactValues result values that are decisions, or counts of decisions: never different
 *     (a name ending in "_" stands for every value it begins, e.g. "competitor_")
 * @param exactMaps result maps that are decisions (e.g. a blurred set): never different
 */
public record BatchTolerance(double maps, double values, Set<String> exactValues,
    Set<String> exactMaps) {

  /** Copies the sets and checks the tolerances. */
  public BatchTolerance {
    exactValues = Set.copyOf(exactValues);
    exactMaps = Set.copyOf(exactMaps);
    if (!(maps >= 0 && maps < 1) || !(values >= 0 && values < 1)) {
      throw new IllegalArgumentException("tolerances must be in [0, 1)");
    }
  }

  /** A tolerance with no discrete outputs: every value and map is continuous. */
  public static BatchTolerance continuous(double maps, double values) {
    return new BatchTolerance(maps, values, Set.of(), Set.of());
  }

  /** Whether two results' value {@code name} agree: exactly for a decision, else within. */
  public boolean valuesAgree(String name, double a, double b) {
    if (exactValues.contains(name)
        || exactValues.stream().anyMatch(e -> e.endsWith("_") && name.startsWith(e))) {
      return Double.compare(a, b) == 0;
    }
    return Math.abs(a - b) <= values * Math.max(1, Math.max(Math.abs(a), Math.abs(b)));
  }

  /** The difference of two maps as this tolerance measures it: a share of the larger scale. */
  public static double mapDifference(float[] a, float[] b) {
    if (a.length != b.length) {
      return Double.POSITIVE_INFINITY;
    }
    double scale = 0;
    double worst = 0;
    for (int i = 0; i < a.length; i++) {
      scale = Math.max(scale, Math.max(Math.abs(a[i]), Math.abs(b[i])));
      worst = Math.max(worst, Math.abs((double) a[i] - b[i]));
    }
    return scale == 0 ? worst : worst / scale;
  }

  /** Whether two results' map {@code name} agree: exactly for a decision, else within. */
  public boolean mapsAgree(String name, float[] a, float[] b) {
    if (exactMaps.contains(name)) {
      return java.util.Arrays.equals(a, b);
    }
    return mapDifference(a, b) <= maps;
  }
}
