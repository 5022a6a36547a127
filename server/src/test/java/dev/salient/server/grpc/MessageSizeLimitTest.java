package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.util.SalientException;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;

/** The scan of gRPC's length-prefixed messages as the request body arrives, in any pieces. */
class MessageSizeLimitTest {

  private static ByteString header(long length) {
    return ByteString.fromArray(new byte[] {0, (byte) (length >>> 24), (byte) (length >>> 16),
        (byte) (length >>> 8), (byte) length});
  }

  @Test
  void messagesUpToTheLimitPassWhateverPiecesTheyArriveIn() {
    var scanner = new MessageSizeLimit.FrameScanner(100);
    ByteString body = header(100).concat(ByteString.fromArray(new byte[100]))
        .concat(header(0)).concat(header(3)).concat(ByteString.fromArray(new byte[3]));

    assertDoesNotThrow(() -> {
      for (int i = 0; i < body.length(); i += 7) {
        scanner.scan(body.slice(i, Math.min(body.length(), i + 7)));
      }
    });
  }

  @Test
  void aHeaderAnnouncingMoreThanTheLimitIsRefusedBeforeItsPayloadNamingTheKey() {
    var scanner = new MessageSizeLimit.FrameScanner(100);
    scanner.scan(header(10).concat(ByteString.fromArray(new byte[10])));
    ByteString tooLarge = header(700_000_000L);

    scanner.scan(tooLarge.slice(0, 2));
    var refused = assertThrows(SalientException.CapacityExceeded.class,
        () -> scanner.scan(tooLarge.slice(2, 5)));

    assertTrue(refused.getMessage().contains("700000000 bytes"), refused.getMessage());
    assertTrue(refused.getMessage().contains("limit of 100 bytes"), refused.getMessage());
    assertTrue(refused.getMessage().contains("salient.limits.max-message-size"),
        refused.getMessage());
  }
}
