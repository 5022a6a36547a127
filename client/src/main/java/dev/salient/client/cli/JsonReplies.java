package dev.salient.client.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.ParameterInfo;
import java.util.List;
import java.util.Locale;

/** Formats the unary replies (classify, models) as single-line JSON objects. */
final class JsonReplies {

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private JsonReplies() {}

  /** {@code {"model":...,"top":[...]}}. */
  static String classify(ClassifyResponse r) {
    ObjectNode o = NODES.objectNode();
    o.put("model", r.getModel());
    o.set("top", JsonEvents.scores(r.getTopList()));
    return JsonEvents.write(o);
  }

  /** {@code {"models":[...]}}, each entry as {@link #model}. */
  static String models(List<ModelInfo> models) {
    ObjectNode o = NODES.objectNode();
    ArrayNode a = o.putArray("models");
    models.forEach(m -> a.add(model(m)));
    return JsonEvents.write(o);
  }

  /** {@code {"model":{...}}}: one model's full description. */
  static String describe(ModelInfo m) {
    ObjectNode o = NODES.objectNode();
    o.set("model", model(m));
    return JsonEvents.write(o);
  }

  private static ObjectNode model(ModelInfo m) {
    ObjectNode o = NODES.objectNode();
    o.put("name", m.getName());
    o.put("description", m.getDescription());
    o.put("format", m.getFormat());
    o.put("is_default", m.getIsDefault());
    o.set("input_shape", JsonEvents.longs(m.getInputShapeList()));
    o.put("pixel_min", m.getPixelMin());
    o.put("pixel_max", m.getPixelMax());
    ArrayNode mean = o.putArray("mean");
    m.getMeanList().forEach(mean::add);
    ArrayNode std = o.putArray("std");
    m.getStdList().forEach(std::add);
    ArrayNode labels = o.putArray("labels");
    m.getLabelsList().forEach(labels::add);
    if (m.hasPreprocessing()) {
      ObjectNode preprocessing = o.putObject("preprocessing");
      preprocessing.put("resize", m.getPreprocessing().getResize());
      preprocessing.put("resize_short_side", m.getPreprocessing().getResizeShortSide());
      preprocessing.put("crop", m.getPreprocessing().getCrop());
      preprocessing.put("color_management", m.getPreprocessing().getColorManagement());
    }
    ObjectNode metrics = o.putObject("metrics");
    m.getMetricsMap().forEach(metrics::put);
    ArrayNode methods = o.putArray("methods");
    for (MethodInfo method : m.getMethodsList()) {
      ObjectNode mo = methods.addObject();
      mo.put("name", method.getName());
      mo.put("description", method.getDescription());
      mo.put("family", method.getFamily().name().toLowerCase(Locale.ROOT));
      mo.put("live_video", method.getLiveVideo());
      ArrayNode params = mo.putArray("parameters");
      for (ParameterInfo p : method.getParametersList()) {
        ObjectNode po = params.addObject();
        po.put("name", p.getName());
        po.put("description", p.getDescription());
        po.put("default_value", p.getDefaultValue());
        po.put("kind", p.getKind().name().toLowerCase(Locale.ROOT));
        po.put("accepted", p.getAccepted());
        if (p.getKind() == ParameterInfo.Kind.INTEGER || p.getKind() == ParameterInfo.Kind.NUMBER) {
          po.put("min", p.getMin());
          po.put("max", p.getMax());
        }
        if (p.getChoicesCount() > 0) {
          ArrayNode choices = po.putArray("choices");
          p.getChoicesList().forEach(choices::add);
        }
      }
    }
    return o;
  }
}
