package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.salient.grpc.Target;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TargetSpecTest {

  @Test
  void allDigitsIsAClassIndex() {
    assertEquals(Target.newBuilder().setClassIndex(3).build(), TargetSpec.parse("3"));
    assertEquals(Target.newBuilder().setClassIndex(0).build(), TargetSpec.parse("0"));
  }

  @Test
  void topKIsARank() {
    assertEquals(Target.newBuilder().setRank(1).build(), TargetSpec.parse("top:1"));
    assertEquals(Target.newBuilder().setRank(12).build(), TargetSpec.parse("top:12"));
  }

  @Test
  void anythingElseIsALabel() {
    assertEquals(Target.newBuilder().setLabel("Sneaker").build(), TargetSpec.parse("Sneaker"));
    assertEquals(
        Target.newBuilder().setLabel("T-shirt/top").build(), TargetSpec.parse("T-shirt/top"));
    assertEquals(Target.newBuilder().setLabel("3d").build(), TargetSpec.parse("3d"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "-1", "top:", "top:0", "top:x", "top:-2", "99999999999"})
  void parse_error(String text) {
    assertThrows(IllegalArgumentException.class, () -> TargetSpec.parse(text));
  }
}
