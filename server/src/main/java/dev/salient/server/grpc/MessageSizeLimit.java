package dev.salient.server.grpc;

import dev.salient.server.util.SalientException;
import java.util.Locale;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;

/**
 * The largest gRPC message a client may send. Pekko gRPC has no such limit of its own and
 * buffers each message whole before parsing it (a 700 MB request took the heap), and Pekko
 * HTTP's {@code max-content-length} would bound a whole request stream, not each message of a
 * video stream. So the request body is watched as it arrives: each message's 5-byte gRPC header
 * announces its length, and a length over the limit fails the call with RESOURCE_EXHAUSTED before
 * its payload is buffered.
 */
public final class MessageSizeLimit {
  /** The configuration key that sets the limit, named in every refusal. */
  public static final String KEY = "salient.limits.max-message-size";

  private MessageSizeLimit() {}

  /** {@code handler} behind a check that refuses messages over {@code maxBytes}. */
  public static Function<HttpRequest, CompletionStage<HttpResponse>> apply(
      Function<HttpRequest, CompletionStage<HttpResponse>> handler, long maxBytes) {
    return request -> handler.apply(request.withEntity(limited(request, maxBytes)));
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static org.apache.pekko.http.javadsl.model.RequestEntity limited(HttpRequest request,
      long maxBytes) {
    var entity = (org.apache.pekko.http.scaladsl.model.RequestEntity) request.entity();
    return entity.transformDataBytes(
        (org.apache.pekko.stream.scaladsl.Flow) Flow.fromGraph(new Check(maxBytes)).asScala());
  }

  /**
   * Passes the body on while its messages are within the limit. Over it, fails the handler's side
   * with the refusal but goes on reading (and dropping) the rest of the body: cancelling it would
   * make Pekko HTTP reset the stream (RST_STREAM CANCEL) before the handler's status could be
   * sent. Once the status is sent, Pekko HTTP closes the stream and the reading stops.
   */
  private static final class Check extends GraphStage<FlowShape<ByteString, ByteString>> {
    private final long maxBytes;
    private final Inlet<ByteString> in = Inlet.create("MessageSizeLimit.in");
    private final Outlet<ByteString> out = Outlet.create("MessageSizeLimit.out");
    private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);

    Check(long maxBytes) {
      this.maxBytes = maxBytes;
    }

    @Override
    public FlowShape<ByteString, ByteString> shape() {
      return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
      return new GraphStageLogic(shape) {
        private final FrameScanner scanner = new FrameScanner(maxBytes);
        private boolean refused;

        {
          setHandler(in, new AbstractInHandler() {
            @Override
            public void onPush() {
              ByteString bytes = grab(in);
              if (refused) {
                pull(in);
                return;
              }
              try {
                scanner.scan(bytes);
                push(out, bytes);
              } catch (SalientException.CapacityExceeded e) {
                refused = true;
                fail(out, e);
                pull(in);
              }
            }
          });
          setHandler(out, new AbstractOutHandler() {
            @Override
            public void onPull() {
              pull(in);
            }

            @Override
            public void onDownstreamFinish(Throwable cause) {
              if (!refused) {
                cancelStage(cause);
              }
            }
          });
        }
      };
    }
  }

  /**
   * Follows the gRPC length-prefixed framing (1 byte compressed flag, 4 bytes big-endian length,
   * the payload) across however the bytes arrive, and refuses a header announcing too much.
   */
  static final class FrameScanner {
    private static final int HEADER_BYTES = 5;

    private final long maxBytes;
    private int headerSeen;
    private long announced;
    private long payloadLeft;

    FrameScanner(long maxBytes) {
      this.maxBytes = maxBytes;
    }

    /**
     * Takes the next bytes of the request body.
     *
     * @throws SalientException.CapacityExceeded when a message header announces over the limit
     */
    void scan(ByteString bytes) {
      int i = 0;
      int n = bytes.length();
      while (i < n) {
        if (payloadLeft > 0) {
          long skip = Math.min(payloadLeft, n - i);
          payloadLeft -= skip;
          i += (int) skip;
          continue;
        }
        int b = bytes.apply(i++) & 0xff;
        if (headerSeen > 0) {
          announced = (announced << 8) | b;
        }
        if (++headerSeen == HEADER_BYTES) {
          if (announced > maxBytes) {
            throw tooLarge(announced, maxBytes);
          }
          payloadLeft = announced;
          headerSeen = 0;
          announced = 0;
        }
      }
    }
  }

  static SalientException.CapacityExceeded tooLarge(long length, long maxBytes) {
    return new SalientException.CapacityExceeded(String.format(Locale.ROOT,
        "request message is %d bytes, over the server's limit of %d bytes (%s): send the image "
            + "as PNG or JPEG at the model's input size, or raise %s on the server",
        length, maxBytes, KEY, KEY));
  }
}
