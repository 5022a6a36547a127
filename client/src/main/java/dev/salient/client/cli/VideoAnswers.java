package dev.salient.client.cli;

import dev.salient.client.video.HeatmapOverlay;
import dev.salient.client.video.LatencyStats;
import dev.salient.client.video.VideoOutput;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.SaliencyMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * The answer side of a video run: checks that every frame is answered once and in order, keeps
 * the counts and latencies, prints a line per answer and draws the annotated video.
 */
final class VideoAnswers implements AutoCloseable {

  private static final long PROGRESS_EVERY_NANOS = 1_000_000_000L;

  private final VideoFeed feed;
  private final String method;
  private final Path outFile;
  private final double outFps;
  private final boolean json;
  private final PrintWriter out;
  private final PrintWriter err;
  private final LatencyStats latencies = new LatencyStats();
  private VideoOutput output;
  private Optional<SaliencyMap> lastMap = Optional.empty();
  private long lastSequence = -1;
  private long framesOut;
  private long dropped;
  private long lastAnswerNanos;
  private long lastProgressNanos;

  VideoAnswers(
      VideoFeed feed,
      String method,
      Path outFile,
      double outFps,
      boolean json,
      PrintWriter out,
      PrintWriter err) {
    this.feed = feed;
    this.method = method;
    this.outFile = outFile;
    this.outFps = outFps;
    this.json = json;
    this.out = out;
    this.err = err;
  }

  /** Handles one answer, received at {@code receivedNanos} ({@link System#nanoTime()}). */
  void accept(FrameExplanation answer, long receivedNanos) {
    long sequence = answer.getSequence();
    if (sequence <= lastSequence) {
      throw broken("answered frame " + sequence + " after frame " + lastSequence);
    }
    VideoFeed.Sent sent =
        feed.answered(sequence)
            .orElseThrow(() -> broken("answered frame " + sequence + ", which was not sent"));
    lastSequence = sequence;
    lastAnswerNanos = receivedNanos;
    double latencyMs = (receivedNanos - sent.sentNanos()) / 1e6;
    if (answer.hasExplained()) {
      framesOut++;
      latencies.add(latencyMs);
      lastMap = HeatmapOverlay.pick(answer.getExplained().getMapsList(), method);
      write(sent.image(), label(answer.getExplained().getPredicted(), latencyMs), false);
      if (json) {
        out.println(JsonVideoEvents.frame(answer, latencyMs));
      }
    } else if (answer.hasDropped()) {
      dropped++;
      write(sent.image(), "dropped: " + answer.getDropped().getReason(), true);
      if (json) {
        out.println(JsonVideoEvents.dropped(answer, latencyMs));
      }
    } else {
      throw broken("answered frame " + sequence + " with neither an explanation nor a drop");
    }
    if (json) {
      out.flush();
    } else if (receivedNanos - lastProgressNanos >= PROGRESS_EVERY_NANOS) {
      lastProgressNanos = receivedNanos;
      err.printf(
          Locale.ROOT,
          "frame %d: %d sent, %d explained, %d dropped, latency %.1f ms%n",
          sequence,
          feed.framesIn(),
          framesOut,
          dropped,
          latencyMs);
      err.flush();
    }
  }

  /** The run's outcome; call after the last answer. */
  VideoSummary summary() {
    long first = feed.firstSentNanos();
    double seconds = first == 0 || lastAnswerNanos == 0 ? 0 : (lastAnswerNanos - first) / 1e9;
    return new VideoSummary(
        feed.framesIn(),
        framesOut,
        dropped,
        latencies.percentile(50),
        latencies.percentile(99),
        seconds > 0 ? framesOut / seconds : 0,
        seconds,
        output == null ? null : outFile);
  }

  /** Fails with INTERNAL when the stream ended before every frame sent was answered. */
  void checkAllAnswered() {
    long unanswered = feed.framesIn() - framesOut - dropped;
    if (unanswered != 0) {
      throw broken(
          "ended the stream with " + unanswered + " of " + feed.framesIn() + " frames unanswered");
    }
  }

  /** Finishes the output video, if one was started. */
  @Override
  public void close() {
    if (output != null) {
      try {
        output.close();
      } catch (IOException e) {
        throw new CliFailure("cannot finish " + outFile + ": " + e.getMessage(), e);
      }
    }
  }

  private void write(BufferedImage frame, String label, boolean isDropped) {
    if (outFile == null || frame == null) {
      return;
    }
    try {
      BufferedImage drawn = HeatmapOverlay.draw(frame, lastMap, label, isDropped);
      if (output == null) {
        output = VideoOutput.open(outFile, drawn.getWidth(), drawn.getHeight(), outFps);
      }
      output.write(drawn);
    } catch (IOException e) {
      throw new CliFailure("cannot write " + outFile + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new CliFailure("server sent a map the client cannot draw: " + e.getMessage(), e);
    }
  }

  private static String label(ClassScore predicted, double latencyMs) {
    return String.format(
        Locale.ROOT,
        "%s %.0f%%  %.0f ms",
        predicted.getLabel(),
        100 * predicted.getProbability(),
        latencyMs);
  }

  // The server broke the ExplainVideo contract: reported like grpc-java reports a broken call.
  private static StatusRuntimeException broken(String what) {
    return new StatusRuntimeException(Status.INTERNAL.withDescription("the server " + what));
  }
}
