package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The shortest move into an intersection of half-spaces, against hand-solved cases. */
class HalfspaceProjectionTest {
  static final boolean[] ALL_FREE = {true, true, true};

  @Test
  void oneHalfSpaceIsAProjectionOntoItsPlane() {
    // 2x + y <= -5 from the origin: d = (-5 / 5) (2, 1).
    double[] d = HalfspaceProjection.solve(new float[][] {{2, 1, 0}}, new double[] {-5},
        ALL_FREE);
    assertArrayEquals(new double[] {-2, -1, 0}, d, 1e-12);
  }

  @Test
  void twoViolatedHalfSpacesMeetAtTheClosestPointOfTheirIntersection() {
    // x <= -2 and x + y <= -3: either plane's own projection, (-2, 0) or (-1.5, -1.5), breaks
    // the other half-space, so both bind: d = (-2, -1).
    double[] d = HalfspaceProjection.solve(new float[][] {{1, 0, 0}, {1, 1, 0}},
        new double[] {-2, -3}, ALL_FREE);
    assertArrayEquals(new double[] {-2, -1, 0}, d, 1e-12);
  }

  @Test
  void aHalfSpaceTheMoveAlreadySatisfiesDoesNotBend() {
    // x <= -2 binds; x - y <= 1 is slack at (-2, 0).
    double[] d = HalfspaceProjection.solve(new float[][] {{1, 0, 0}, {1, -1, 0}},
        new double[] {-2, 1}, ALL_FREE);
    assertArrayEquals(new double[] {-2, 0, 0}, d, 1e-12);
  }

  @Test
  void heldCoordinatesDoNotMove() {
    // x + y + z <= -3 with x held: d = (0, -1.5, -1.5).
    double[] d = HalfspaceProjection.solve(new float[][] {{1, 1, 1}}, new double[] {-3},
        new boolean[] {false, true, true});
    assertArrayEquals(new double[] {0, -1.5, -1.5}, d, 1e-12);
  }

  @Test
  void contradictoryHalfSpacesHaveNoMove() {
    // x <= -1 and -x <= -1 cannot both hold.
    assertNull(HalfspaceProjection.solve(new float[][] {{1, 0, 0}, {-1, 0, 0}},
        new double[] {-1, -1}, ALL_FREE));
  }
}
