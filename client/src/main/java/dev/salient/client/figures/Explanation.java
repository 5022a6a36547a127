package dev.salient.client.figures;

import dev.salient.grpc.Frame;
import dev.salient.grpc.Result;
import dev.salient.grpc.Started;
import java.util.List;

/** Everything one Explain stream sent: the started event, the frames in order, the result. */
public record Explanation(Started started, List<Frame> frames, Result result) {
  /** Copies the frames. */
  public Explanation {
    frames = List.copyOf(frames);
  }
}
