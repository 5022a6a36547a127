package dev.salient.server.engine;

/** Ranks classes by score: highest first, ties by lower index. */
public final class Ranking {
  private Ranking() {}

  /** The index of the {@code rank}-th best score (1 = the best). */
  public static int indexOfRank(float[] scores, int rank) {
    if (rank < 1 || rank > scores.length) {
      throw new IllegalArgumentException("rank " + rank + " outside 1.." + scores.length);
    }
    Integer[] order = new Integer[scores.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, (a, b) -> scores[a] != scores[b]
        ? Float.compare(scores[b], scores[a]) : Integer.compare(a, b));
    return order[rank - 1];
  }
}
