package dev.salient.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Image;
import dev.salient.grpc.Tensor;
import dev.salient.grpc.VideoSession;
import dev.salient.server.util.SalientException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * JSON to and from the contract's messages: the proto3 JSON mapping (field names in lowerCamel
 * or as in the .proto, bytes as base64, int64 as strings), plus KServe V1's {@code instances}.
 * Anything malformed is an {@link SalientException.InvalidArgument} naming what is wrong.
 */
final class JsonRequests {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();
  private static final JsonFormat.Printer PRINTER =
      JsonFormat.printer().omittingInsignificantWhitespace().preservingProtoFieldNames();

  private JsonRequests() {}

  /** {@code message} as one line of JSON, field names as in the .proto. */
  static String print(Message message) {
    try {
      return PRINTER.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("cannot print " + message.getDescriptorForType().getName()
          + " as JSON", e);
    }
  }

  /**
   * The ExplainRequest of a {@code :explain} body for {@code model}: an ExplainRequest in JSON,
   * whose image may instead be KServe's {@code instances} (one instance); params values may be
   * JSON numbers or booleans.
   */
  static ExplainRequest explainRequest(String model, String body) {
    ObjectNode object = object(body);
    JsonNode instances = object.remove("instances");
    normaliseParams(object, "params");
    ExplainRequest.Builder out = ExplainRequest.newBuilder();
    merge(object, out, "ExplainRequest");
    if (instances != null) {
      List<Image> images = images(instances);
      if (images.size() != 1) {
        throw new SalientException.InvalidArgument(":explain takes exactly one instance (an "
            + "image), got " + images.size());
      }
      if (out.hasImage()) {
        throw new SalientException.InvalidArgument("set either image or instances, not both");
      }
      out.setImage(images.get(0));
    }
    return out.setModel(model).build();
  }

  /**
   * The images of a {@code :predict} body: {@code {"instances": [...]}}, and its top_k from
   * {@code parameters} (0 when not given).
   */
  static Predict predict(String body) {
    ObjectNode object = object(body);
    JsonNode instances = object.remove("instances");
    if (instances == null) {
      throw new SalientException.InvalidArgument(":predict needs \"instances\": a list of "
          + "images, each {\"b64\": \"<PNG or JPEG, base64>\"} or a nested array [C][H][W] of "
          + "pixel values");
    }
    int topK = 0;
    JsonNode parameters = object.remove("parameters");
    if (parameters != null) {
      JsonNode k = parameters.get("top_k");
      if (k == null || !k.canConvertToInt() || !k.isIntegralNumber() || parameters.size() != 1) {
        throw new SalientException.InvalidArgument(":predict parameters take one key, top_k (a "
            + "whole number), got " + parameters);
      }
      topK = k.intValue();
    }
    if (object.size() > 0) {
      throw new SalientException.InvalidArgument(":predict takes instances and parameters; "
          + "unknown field(s) " + iterable(object.fieldNames()));
    }
    return new Predict(images(instances), topK);
  }

  /** The images and top_k of a {@code :predict} request. */
  record Predict(List<Image> images, int topK) {}

  /** The VideoSession of a WebSocket's first message (JSON of VideoSession). */
  static VideoSession videoSession(String body) {
    ObjectNode object = object(body);
    normaliseParams(object, "params");
    VideoSession.Builder out = VideoSession.newBuilder();
    merge(object, out, "VideoSession");
    return out.build();
  }

  private static void merge(ObjectNode object, Message.Builder out, String type) {
    try {
      PARSER.merge(JSON.writeValueAsString(object), out);
    } catch (InvalidProtocolBufferException | JsonProcessingException e) {
      throw new SalientException.InvalidArgument("bad " + type + " JSON: " + e.getMessage());
    }
  }

  private static ObjectNode object(String body) {
    if (body.isBlank()) {
      throw new SalientException.InvalidArgument("the request body is empty: send a JSON "
          + "object");
    }
    JsonNode node;
    try {
      node = JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw new SalientException.InvalidArgument("bad JSON: " + e.getOriginalMessage()
          + " (line " + e.getLocation().getLineNr() + ", column "
          + e.getLocation().getColumnNr() + ")");
    }
    if (!(node instanceof ObjectNode object)) {
      throw new SalientException.InvalidArgument("the request body must be a JSON object, got "
          + node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
    }
    return object;
  }

  /** Turns numbers and booleans among the map's values into the strings params are. */
  private static void normaliseParams(ObjectNode object, String field) {
    if (object.get(field) instanceof ObjectNode params) {
      for (Iterator<Map.Entry<String, JsonNode>> it = params.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> entry = it.next();
        if (entry.getValue().isNumber() || entry.getValue().isBoolean()) {
          entry.setValue(JSON.getNodeFactory().textNode(entry.getValue().asText()));
        }
      }
    }
  }

  private static List<Image> images(JsonNode instances) {
    if (!(instances instanceof ArrayNode list) || list.isEmpty()) {
      throw new SalientException.InvalidArgument("\"instances\" must be a non-empty list of "
          + "images");
    }
    List<Image> out = new ArrayList<>();
    for (JsonNode instance : list) {
      out.add(image(instance, out.size()));
    }
    return out;
  }

  /** One instance: {@code {"b64": ...}} (encoded bytes) or a nested array of pixel values. */
  private static Image image(JsonNode instance, int index) {
    if (instance.isObject() && instance.size() == 1 && instance.get("b64") != null
        && instance.get("b64").isTextual()) {
      try {
        return Image.newBuilder().setEncoded(ByteString.copyFrom(
            Base64.getDecoder().decode(instance.get("b64").asText()))).build();
      } catch (IllegalArgumentException e) {
        throw new SalientException.InvalidArgument("instance " + index + ": b64 is not base64 ("
            + e.getMessage() + ")");
      }
    }
    if (instance.isArray()) {
      List<Long> shape = new ArrayList<>();
      for (JsonNode n = instance; n.isArray(); n = n.get(0)) {
        shape.add((long) n.size());
        if (n.isEmpty()) {
          break;
        }
      }
      long count = shape.stream().reduce(1L, (a, b) -> a * b);
      if (count == 0 || count > Integer.MAX_VALUE / 4) {
        throw new SalientException.InvalidArgument("instance " + index + ": a nested array of "
            + "shape " + shape + " holds no image");
      }
      ByteBuffer data = ByteBuffer.allocate((int) count * 4).order(ByteOrder.LITTLE_ENDIAN);
      flatten(instance, shape, 0, data, index);
      return Image.newBuilder().setTensor(Tensor.newBuilder().addAllShape(shape)
          .setData(ByteString.copyFrom(data.array()))).build();
    }
    throw new SalientException.InvalidArgument("instance " + index + " must be {\"b64\": "
        + "\"<PNG or JPEG, base64>\"} or a nested array [C][H][W] of pixel values");
  }

  private static void flatten(JsonNode node, List<Long> shape, int depth, ByteBuffer out,
      int index) {
    if (depth == shape.size()) {
      if (!node.isNumber()) {
        throw new SalientException.InvalidArgument("instance " + index + ": " + node
            + " is not a number");
      }
      out.putFloat(node.floatValue());
      return;
    }
    if (!node.isArray() || node.size() != shape.get(depth)) {
      throw new SalientException.InvalidArgument("instance " + index + " is not a rectangular "
          + "nested array of shape " + shape);
    }
    for (JsonNode child : node) {
      flatten(child, shape, depth + 1, out, index);
    }
  }

  private static List<String> iterable(Iterator<String> names) {
    List<String> out = new ArrayList<>();
    names.forEachRemaining(out::add);
    return out;
  }
}
