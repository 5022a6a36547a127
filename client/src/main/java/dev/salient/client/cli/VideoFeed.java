package dev.salient.client.cli;

import dev.salient.client.video.InputFrame;
import dev.salient.client.video.ModelInput;
import dev.salient.client.video.Pacer;
import dev.salient.client.video.VideoInput;
import dev.salient.grpc.Image;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The request side of a video run: reads frames, converts each to the model's input tensor and
 * hands it to the stream when the pacer says it is due, remembering when and what was sent.
 */
final class VideoFeed {

  /**
   * A frame handed to the stream and not yet answered.
   *
   * @param sentNanos when it was handed over, {@link System#nanoTime()}
   * @param image the original frame, or null when no output video is written
   */
  record Sent(long sentNanos, BufferedImage image) {}

  private final VideoInput input;
  private final ModelInput model;
  private final Pacer pacer;
  private final long maxFrames;
  private final boolean keepImages;
  private final ConcurrentMap<Long, Sent> unanswered = new ConcurrentHashMap<>();
  private final AtomicLong framesIn = new AtomicLong();
  private final AtomicLong firstSentNanos = new AtomicLong();
  private final AtomicReference<Throwable> readFailure = new AtomicReference<>();
  // Touched only by the stream's reading stage, one call at a time.
  private long sequence;

  VideoFeed(VideoInput input, ModelInput model, Pacer pacer, long maxFrames, boolean keepImages) {
    this.input = input;
    this.model = model;
    this.pacer = pacer;
    this.maxFrames = maxFrames;
    this.keepImages = keepImages;
  }

  /** The request stream: a message that opens {@code session}, then one message per frame. */
  Source<VideoFrame, NotUsed> frames(VideoSession session) {
    VideoFrame opening = VideoFrame.newBuilder().setSession(session).build();
    // unfoldResource runs on Pekko's blocking-IO dispatcher: decoding and the pacer's sleep
    // block that thread, not the stream's.
    return Source.single(opening)
        .concat(Source.unfoldResource(() -> this, VideoFeed::next, feed -> {}));
  }

  /** Removes and returns the frame {@code sequence}, or empty if it is not awaiting an answer. */
  Optional<Sent> answered(long sequence) {
    return Optional.ofNullable(unanswered.remove(sequence));
  }

  /** Frames handed to the stream so far. */
  long framesIn() {
    return framesIn.get();
  }

  /** When the first frame was handed over ({@link System#nanoTime()}), or 0 before that. */
  long firstSentNanos() {
    return firstSentNanos.get();
  }

  /** Why reading the input stopped the stream, if it did. */
  Optional<Throwable> readFailure() {
    return Optional.ofNullable(readFailure.get());
  }

  private Optional<VideoFrame> next() throws IOException, InterruptedException {
    if (sequence >= maxFrames) {
      return Optional.empty();
    }
    Optional<InputFrame> frame;
    try {
      frame = input.next();
    } catch (IOException | RuntimeException e) {
      readFailure.set(e);
      throw e;
    }
    if (frame.isEmpty()) {
      return Optional.empty();
    }
    InputFrame f = frame.get();
    Image image = Image.newBuilder().setTensor(model.tensor(f.image())).build();
    pacer.awaitNext();
    long now = System.nanoTime();
    long s = sequence++;
    unanswered.put(s, new Sent(now, keepImages ? f.image() : null));
    firstSentNanos.compareAndSet(0, now);
    framesIn.incrementAndGet();
    return Optional.of(
        VideoFrame.newBuilder()
            .setSequence(s)
            .setCaptureTimeUs(f.timestampUs())
            .setImage(image)
            .build());
  }
}
