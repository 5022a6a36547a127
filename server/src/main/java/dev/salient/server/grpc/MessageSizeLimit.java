package dev.salient.server.grpc;

import dev.salient.server.util.SalientException;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
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

  private static final ContentType GRPC = ContentTypes.parse("application/grpc");

  private MessageSizeLimit() {}

  /** {@code handler} behind a check that refuses messages over {@code maxBytes}. */
  public static Function<HttpRequest, CompletionStage<HttpResponse>> apply(
      Function<HttpRequest, CompletionStage<HttpResponse>> handler, long maxBytes) {
    return request -> {
      CompletableFuture<HttpResponse> refusal = new CompletableFuture<>();
      AtomicBoolean answered = new AtomicBoolean();
      CompletionStage<HttpResponse> answer = handler.apply(
          request.withEntity(limited(request, maxBytes, refusal, answered)))
          .whenComplete((response, error) -> answered.set(true));
      return answer.applyToEither(refusal, response -> response);
    };
  }

  /**
   * The request's entity, scanned. Over the limit, a call whose handler has not answered yet
   * (every call with one request message) is answered with the refusal at once and the rest of
   * its body is dropped unread: failing the body instead would make Pekko HTTP reset the stream
   * (RST_STREAM CANCEL) before the status could be sent. A call already answered (a video
   * stream) fails its request stream, which ends the response with the status.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  private static org.apache.pekko.http.javadsl.model.RequestEntity limited(HttpRequest request,
      long maxBytes, CompletableFuture<HttpResponse> refusal, AtomicBoolean answered) {
    AtomicReference<SalientException.CapacityExceeded> refused = new AtomicReference<>();
    Flow<ByteString, ByteString, ?> check = Flow.of(ByteString.class)
        .statefulMapConcat(() -> {
          FrameScanner scanner = new FrameScanner(maxBytes);
          return bytes -> {
            if (refused.get() != null) {
              return List.of();
            }
            try {
              scanner.scan(bytes);
            } catch (SalientException.CapacityExceeded e) {
              if (answered.get()) {
                throw e;
              }
              refused.set(e);
              refusal.complete(trailersOnly(e.getMessage()));
              return List.of();
            }
            return List.of(bytes);
          };
        })
        // The handler, whose answer is no longer wanted, then fails with the refusal too rather
        // than as a request without a message (an internal error).
        .concatLazy(Source.lazySource(() -> refused.get() == null
            ? Source.<ByteString>empty() : Source.<ByteString>failed(refused.get())));
    var entity = (org.apache.pekko.http.scaladsl.model.RequestEntity) request.entity();
    return entity.transformDataBytes((org.apache.pekko.stream.scaladsl.Flow) check.asScala());
  }

  /** A gRPC response without messages whose headers carry RESOURCE_EXHAUSTED and the reason. */
  private static HttpResponse trailersOnly(String message) {
    return HttpResponse.create()
        .withEntity(HttpEntities.create(GRPC, new byte[0]))
        .addHeader(RawHeader.create("grpc-status",
            Integer.toString(Status.Code.RESOURCE_EXHAUSTED.value())))
        .addHeader(RawHeader.create("grpc-message", percentEncoded(message)));
  }

  /** The grpc-message encoding: bytes outside printable ASCII, and '%', as %XX of UTF-8. */
  static String percentEncoded(String message) {
    StringBuilder out = new StringBuilder();
    for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c >= 0x20 && c <= 0x7e && c != '%') {
        out.append((char) c);
      } else {
        out.append(String.format(Locale.ROOT, "%%%02X", c));
      }
    }
    return out.toString();
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
