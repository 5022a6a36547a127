package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ServerAddressTest {

  @Test
  void hostAndPort() {
    assertEquals(new ServerAddress("127.0.0.1", 50051), ServerAddress.parse("127.0.0.1:50051"));
    assertEquals(new ServerAddress("gpu-box", 8080), ServerAddress.parse("gpu-box:8080"));
  }

  @Test
  void bracketedIpv6() {
    ServerAddress a = ServerAddress.parse("[::1]:50051");
    assertEquals(new ServerAddress("::1", 50051), a);
    assertEquals("[::1]:50051", a.toString());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "host", "host:", ":50051", "host:0", "host:70000", "host:x", "::1:5"})
  void parse_error(String text) {
    assertThrows(IllegalArgumentException.class, () -> ServerAddress.parse(text));
  }
}
