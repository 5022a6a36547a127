package dev.salient.server.video;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The exponential moving average of maps across frames. */
class MapSmootherTest {

  static List<SaliencyMap> maps(long[] shape, float... values) {
    return List.of(new SaliencyMap("saliency", new FloatTensor(shape, values),
        ColourScale.SEQUENTIAL));
  }

  static float[] data(List<SaliencyMap> maps) {
    return maps.get(0).tensor().data();
  }

  @Test
  void eachMapIsTheWeightedSumOfThePreviousAverageAndTheNewMap() {
    MapSmoother smoother = new MapSmoother(0.5);
    long[] shape = {1, 2};

    float[] s1 = data(smoother.next(maps(shape, 4, 0)));
    float[] s2 = data(smoother.next(maps(shape, 0, 8)));
    float[] s3 = data(smoother.next(maps(shape, 2, 2)));

    assertArrayEquals(new float[] {4, 0}, s1);
    assertArrayEquals(new float[] {2, 4}, s2);
    assertArrayEquals(new float[] {2, 3}, s3);
  }

  @Test
  void aMapWhoseShapeChangesStartsOver() {
    MapSmoother smoother = new MapSmoother(0.9);
    smoother.next(maps(new long[] {1, 2}, 4, 4));

    float[] restarted = data(smoother.next(maps(new long[] {2, 1}, 1, 2)));

    assertArrayEquals(new float[] {1, 2}, restarted);
  }

  @Test
  void zeroSmoothingPassesMapsThrough() {
    MapSmoother smoother = new MapSmoother(0);
    List<SaliencyMap> first = maps(new long[] {1, 1}, 3);
    smoother.next(first);
    List<SaliencyMap> second = maps(new long[] {1, 1}, 5);

    assertSame(second, smoother.next(second));
  }
}
