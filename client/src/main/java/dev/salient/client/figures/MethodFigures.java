package dev.salient.client.figures;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Figures a method's explanation is drawn as (strips, plots, animations), written by the CLI. */
public interface MethodFigures {

  /** Whether the request should ask for the image and map in every frame (e.g. to animate). */
  default boolean wantsFrameTensors() {
    return false;
  }

  /** Whether the figures are drawn from the result's snapshots, which requests may leave out. */
  default boolean wantsSnapshots() {
    return false;
  }

  /**
   * Writes the figures of one finished explanation into {@code outDir}, file names starting with
   * {@code stem}; returns the paths written.
   */
  List<Path> write(Path outDir, String stem, Explanation explanation) throws IOException;
}
