package dev.salient.client.cli;

import dev.salient.client.SalientClient;
import dev.salient.client.video.ModelInput;
import dev.salient.client.video.Pacer;
import dev.salient.client.video.VideoInput;
import dev.salient.client.video.VideoOutput;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.DropPolicy;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.Target;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code salient video}: streams a video's frames to ExplainVideo and draws the answers. */
@Command(
    name = "video",
    description = {
      "Explain a video live: send its frames at their frame rate, get one answer per frame"
          + " (explained, or dropped when the server is busy) in order, and write the frames"
          + " with the heatmap over them.",
      "Frames go as tensors already resized to the model's input; latency is measured on this"
          + " machine's clock, from handing a frame to the stream to receiving its answer."
    })
final class VideoCommand extends ClientCommand {

  @Option(
      names = "--input",
      paramLabel = "FILE|DIR",
      required = true,
      description =
          "A video file FFmpeg reads (MP4, MOV, MKV, WebM, AVI, GIF, ...) or a directory of"
              + " images (png, jpg, bmp, gif) taken in file-name order.")
  Path input;

  @Option(
      names = "--method",
      paramLabel = "NAME",
      defaultValue = "vanilla",
      description = "vanilla, signed, gradcam or smoothgrad (default: ${DEFAULT-VALUE}).")
  String method;

  @Option(names = "--model", paramLabel = "MODEL", description = "Model; default: the server's.")
  String model;

  @Option(
      names = "--target",
      paramLabel = "TARGET",
      converter = TargetSpec.Converter.class,
      description =
          "Class to explain in every frame: an index, top:K or a label; default: each frame's"
              + " predicted class.")
  Target target;

  @Option(
      names = "--param",
      paramLabel = "KEY=VALUE",
      description = "Method parameter; repeat for several.")
  Map<String, String> params = new LinkedHashMap<>();

  @Option(
      names = "--max-in-flight",
      paramLabel = "N",
      description = "Frames the server explains at once; default: the server's (2).")
  Integer maxInFlight;

  @Option(
      names = "--drop-policy",
      paramLabel = "latest|never",
      defaultValue = "latest",
      description =
          "latest: a waiting frame is dropped when a newer one arrives; never: the server"
              + " slows the sender down instead (default: ${DEFAULT-VALUE}).")
  String dropPolicy;

  @Option(
      names = "--smoothing",
      paramLabel = "A",
      defaultValue = "0",
      description =
          "Average the maps over time: map = A * previous + (1 - A) * this frame's; 0 (the"
              + " default) is off, A < 1.")
  double smoothing;

  @Option(
      names = "--fps",
      paramLabel = "F",
      description = "Send (and write) at F frames/s; default: the file's rate, 30 for a directory.")
  Double fps;

  @Option(
      names = "--as-fast-as-possible",
      description = "Send each frame as soon as it is read; the output keeps the frame rate.")
  boolean asFastAsPossible;

  @Option(names = "--max-frames", paramLabel = "N", description = "Stop after N frames.")
  Long maxFrames;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description =
          "Write the annotated video: .mp4 (MPEG-4 Part 2) or .gif. Dropped frames show the"
              + " last map, framed in amber.")
  Path out;

  @Option(
      names = "--json",
      description =
          "One JSON object per answer per line on stdout (event frame or dropped), then one"
              + " summary line.")
  boolean json;

  private static final int ANSWER_BUFFER = 64;

  private DropPolicy policy;

  /** An answer and when it arrived, stamped before it waits for the output to be drawn. */
  private record Received(FrameExplanation answer, long receivedNanos) {}

  @Override
  void prepare() {
    policy =
        switch (dropPolicy.toLowerCase(Locale.ROOT)) {
          case "latest" -> DropPolicy.LATEST_FRAME_WINS;
          case "never" -> DropPolicy.NEVER_DROP;
          default ->
              throw new IllegalArgumentException(
                  "--drop-policy must be latest or never, got " + dropPolicy);
        };
    if (!(smoothing >= 0 && smoothing < 1)) {
      throw new IllegalArgumentException("--smoothing must be in [0, 1), got " + smoothing);
    }
    if (fps != null && (!(fps > 0) || fps.isInfinite())) {
      throw new IllegalArgumentException("--fps must be a positive number, got " + fps);
    }
    if (maxInFlight != null && maxInFlight < 1) {
      throw new IllegalArgumentException("--max-in-flight must be 1 or more, got " + maxInFlight);
    }
    if (maxFrames != null && maxFrames < 1) {
      throw new IllegalArgumentException("--max-frames must be 1 or more, got " + maxFrames);
    }
    if (!Files.exists(input)) {
      throw new CliFailure("cannot read " + input + ": no such file or directory");
    }
    if (out != null) {
      VideoOutput.checkSupported(out);
      Path parent = out.toAbsolutePath().getParent();
      if (parent != null && !Files.isDirectory(parent)) {
        throw new CliFailure("cannot write " + out + ": no such directory " + parent);
      }
    }
  }

  @Override
  void run(ClientSession session, PrintWriter stdout, PrintWriter err) {
    ModelInput modelInput = describe(session);
    VideoSummary summary;
    VideoAnswers answers;
    try (VideoInput frames = open()) {
      Pacer pacer = asFastAsPossible ? Pacer.unpaced() : Pacer.atRate(frames.frameRate());
      long limit = maxFrames == null ? Long.MAX_VALUE : maxFrames;
      VideoFeed feed = new VideoFeed(frames, modelInput, pacer, limit, out != null);
      answers = new VideoAnswers(feed, method, out, frames.frameRate(), json, stdout, err);
      try (answers) {
        consume(session, feed, answers);
        summary = answers.summary();
      }
    } catch (IOException e) {
      throw new CliFailure("cannot close " + input + ": " + e.getMessage(), e);
    }
    print(summary, stdout);
    answers.checkAllAnswered();
  }

  private ModelInput describe(ClientSession session) {
    SalientClient client = session.client();
    DescribeModelRequest request =
        DescribeModelRequest.newBuilder().setModel(model == null ? "" : model).build();
    ModelInfo info =
        session
            .await(
                deadline
                    .map(d -> client.describeModel(request, d))
                    .orElseGet(() -> client.describeModel(request)))
            .getModel();
    try {
      return ModelInput.of(info);
    } catch (IllegalArgumentException e) {
      throw new CliFailure(e.getMessage(), e);
    }
  }

  private VideoInput open() {
    try {
      return VideoInput.open(input, fps == null ? OptionalDouble.empty() : OptionalDouble.of(fps));
    } catch (IOException | IllegalArgumentException e) {
      throw new CliFailure("cannot read " + input + ": " + e.getMessage(), e);
    }
  }

  private void consume(ClientSession session, VideoFeed feed, VideoAnswers answers) {
    SalientClient client = session.client();
    Source<VideoFrame, NotUsed> frames = feed.frames(videoSession());
    Source<FrameExplanation, NotUsed> stream =
        deadline
            .map(d -> client.explainVideo(frames, d))
            .orElseGet(() -> client.explainVideo(frames));
    // Answers are stamped on arrival, then wait while this thread draws; the buffer absorbs a
    // slow first frame (fonts, FFmpeg's natives) before the wait would push back on the server.
    SinkQueueWithCancel<Received> queue =
        stream
            .map(a -> new Received(a, System.nanoTime()))
            .buffer(ANSWER_BUFFER, OverflowStrategy.backpressure())
            .runWith(Sink.queue(), session.system());
    try {
      for (Optional<Received> r = pull(session, queue, feed);
          r.isPresent();
          r = pull(session, queue, feed)) {
        answers.accept(r.get().answer(), r.get().receivedNanos());
      }
    } finally {
      // Ends the call (and the reading) when leaving early; a no-op after the stream completed.
      queue.cancel();
    }
    feed.readFailure().ifPresent(this::throwReadFailure);
  }

  private Optional<Received> pull(
      ClientSession session, SinkQueueWithCancel<Received> queue, VideoFeed feed) {
    try {
      return session.await(queue.pull());
    } catch (RuntimeException e) {
      // A read error fails the request stream; the call then fails with a less telling status.
      feed.readFailure().ifPresent(this::throwReadFailure);
      throw e;
    }
  }

  private void throwReadFailure(Throwable t) {
    throw new CliFailure("cannot read " + input + ": " + t.getMessage(), t);
  }

  private VideoSession videoSession() {
    VideoSession.Builder s =
        VideoSession.newBuilder()
            .setMethod(method)
            .putAllParams(params)
            .setDropPolicy(policy)
            .setSmoothing((float) smoothing);
    if (model != null) {
      s.setModel(model);
    }
    if (target != null) {
      s.setTarget(target);
    }
    if (maxInFlight != null) {
      s.setMaxInFlight(maxInFlight);
    }
    return s.build();
  }

  private void print(VideoSummary s, PrintWriter stdout) {
    if (json) {
      stdout.println(JsonVideoEvents.summary(s));
      return;
    }
    stdout.printf(
        Locale.ROOT,
        "frames     %d in, %d explained, %d dropped%n",
        s.framesIn(),
        s.framesOut(),
        s.dropped());
    if (s.framesOut() > 0) {
      stdout.printf(
          Locale.ROOT,
          "latency    p50 %.1f ms  p99 %.1f ms  (send to answer, this machine's clock)%n",
          s.p50Ms(),
          s.p99Ms());
    }
    stdout.printf(
        Locale.ROOT,
        "rate       %.2f explained frames/s over %.2f s%n",
        s.fps(),
        s.seconds());
    if (s.out() != null) {
      stdout.println("wrote      " + s.out());
    }
  }
}
