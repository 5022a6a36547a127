package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ResultSchema.MapShape;
import dev.salient.server.method.ResultSchema.ValueType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Grad-CAM (seed 004, section 2.2; Selvaraju et al. 2017) on the model's feature layer: with
 * {@code A^k} the feature maps and {@code f} the class score before softmax, the channel weights
 * are {@code w_k = mean_ij df/dA^k_ij} and the map is {@code ReLU(sum_k w_k A^k)}, upsampled
 * bilinearly (pixel centres aligned) to the input's resolution. One pass, which returns the
 * feature activations and their gradient beside the logits.
 *
 * <p>Only models with a feature layer support it: built-in models name it in {@code model.json}
 * ({@code feature_layer}), TorchScript models are exported in two parts (docs/models.md).
 */
public final class GradCam implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("target_probability", ValueType.PROBABILITY,
          "the model's probability of the target class at the image")
      .value("feature_channels", ValueType.COUNT, "the channels of the feature layer")
      .value("feature_height", ValueType.COUNT, "the feature layer's height")
      .value("feature_width", ValueType.COUNT, "the feature layer's width")
      .value("positive_weight_fraction", ValueType.FRACTION,
          "the share of channels with a positive Grad-CAM weight")
      .value("cam_max", ValueType.NUMBER,
          "the largest |value| of the map at the feature layer's resolution")
      .value("cam_positive_fraction", ValueType.FRACTION,
          "the share of the feature layer's positions where the map is positive")
      .map("gradcam", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "ReLU of the weighted feature maps, upsampled bilinearly to the input")
      .build();

  static final Parameter<Pass.Output> OUTPUT = Parameter.choice("output",
      "what is differentiated: logit (the score before softmax, as in the paper), probability "
          + "or log_probability", Pass.Output.LOGIT);
  static final List<Parameter<?>> PARAMETERS = List.of(OUTPUT);

  /** Parameters of a Grad-CAM request. */
  public record Parameters(Pass.Output output) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(OUTPUT));
    }
  }

  /** The method's name in requests. */
  public static final String NAME = "gradcam";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-5, 1e-5, Set.of("feature_channels", "feature_height",
        "feature_width", "positive_weight_fraction", "cam_positive_fraction"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.GRADIENT;
  }

  @Override
  public String description() {
    return "Feature maps weighted by their mean gradient, ReLU, upsampled (Selvaraju et al.); "
        + "models with a feature layer only";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public boolean supports(ModelPackage model) {
    return model.featureLayer() != null;
  }

  @Override
  public String requirement() {
    return "Grad-CAM needs a feature layer: a builtin model names it in model.json as "
        + "\"feature_layer\", a TorchScript model is exported in two parts, features.pt and "
        + "head.pt (docs/models.md, 'Grad-CAM on your model')";
  }

  @Override
  public boolean explainsVideo() {
    return true;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(p.effective(), context -> new Run(context, parameters));
  }

  /**
   * Grad-CAM at the feature layer's resolution: {@code ReLU(sum_k mean(dA^k) A^k)} for features
   * {@code [K, h, w]} row-major; the channel weights are returned in {@code weights}.
   */
  static float[] lowResolution(float[] features, float[] gradients, long[] shape,
      double[] weights) {
    int channels = (int) shape[0];
    int cells = (int) (shape[1] * shape[2]);
    double[] cam = new double[cells];
    for (int k = 0; k < channels; k++) {
      double mean = 0;
      for (int p = 0; p < cells; p++) {
        mean += gradients[k * cells + p];
      }
      mean /= cells;
      weights[k] = mean;
      for (int p = 0; p < cells; p++) {
        cam[p] += mean * features[k * cells + p];
      }
    }
    float[] out = new float[cells];
    for (int p = 0; p < cells; p++) {
      out[p] = (float) Math.max(0, cam[p]);
    }
    return out;
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private boolean done;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
    }

    @Override
    public Pass nextPass() {
      if (done) {
        return null;
      }
      return Pass.gradient(List.of(context.image()), parameters.output(),
          new int[] {context.target()}, context.model().numClasses())
          .with(Pass.Extras.FEATURE_LAYER);
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      done = true;
      InputSpec spec = context.model().input();
      long[] shape = result.featureShape();
      if (shape == null || shape.length != 3) {
        throw new IllegalStateException("the engine returned no spatial features for Grad-CAM");
      }
      double[] weights = new double[(int) shape[0]];
      float[] low = lowResolution(result.features().get(0), result.featureGradients().get(0),
          shape, weights);
      float[] cam = Bilinear.resize(low, (int) shape[1], (int) shape[2], spec.height(),
          spec.width());
      float[] logits = result.logits().get(0);
      float targetProbability = context.score(logits, context.target()).probability();
      int positive = 0;
      for (double w : weights) {
        if (w > 0) {
          positive++;
        }
      }

      Map<String, Double> frameValues = new LinkedHashMap<>();
      frameValues.put("feature_channels", (double) shape[0]);
      frameValues.put("feature_height", (double) shape[1]);
      frameValues.put("feature_width", (double) shape[2]);
      frameValues.put("positive_weight_fraction", (double) positive / weights.length);
      frameValues.put("cam_max", GradientMaps.maxAbs(low));
      frameValues.put("cam_positive_fraction", GradientMaps.fractionPositive(low));
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("target_probability", (double) targetProbability);
      values.putAll(frameValues);

      FloatTensor map = GradientMaps.pixelMap(spec, cam);
      ExplainEvent frame = new ExplainEvent.Frame(1, "feature_layer", targetProbability,
          context.top(logits), frameValues,
          context.frames().tensors() ? GradientMaps.channelMap(spec, context.image()) : null,
          context.frames().tensors() ? map : null, 2);
      ExplainEvent resultEvent = new ExplainEvent.Result(
          List.of(new SaliencyMap("gradcam", map, ColourScale.SEQUENTIAL)),
          values, List.of(), List.of(), 1, 2, 0);
      return List.of(frame, resultEvent);
    }
  }
}
