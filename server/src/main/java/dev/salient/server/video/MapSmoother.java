package dev.salient.server.video;

import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Exponential moving average of each named map across the frames of a session, applied in
 * sequence order: {@code s_t = a * s_(t-1) + (1 - a) * m_t}, with {@code s_1 = m_1}. A map whose
 * shape changes starts over. With {@code a = 0} maps pass through unchanged.
 */
final class MapSmoother {
  private final float weightOfPrevious;
  private final Map<String, FloatTensor> previous = new HashMap<>();

  MapSmoother(double weightOfPrevious) {
    this.weightOfPrevious = (float) weightOfPrevious;
  }

  /** The smoothed maps of the next frame (overlays are dropped: they showed the raw map). */
  List<SaliencyMap> next(List<SaliencyMap> maps) {
    if (weightOfPrevious == 0) {
      return maps;
    }
    List<SaliencyMap> out = new ArrayList<>(maps.size());
    for (SaliencyMap map : maps) {
      FloatTensor current = map.tensor();
      FloatTensor before = previous.get(map.name());
      FloatTensor smoothed = current;
      if (before != null && Arrays.equals(before.shape(), current.shape())) {
        float[] s = new float[current.data().length];
        float a = weightOfPrevious;
        for (int i = 0; i < s.length; i++) {
          s[i] = a * before.data()[i] + (1 - a) * current.data()[i];
        }
        smoothed = new FloatTensor(current.shape(), s);
      }
      previous.put(map.name(), smoothed);
      out.add(new SaliencyMap(map.name(), smoothed, map.colourScale()));
    }
    return out;
  }
}
