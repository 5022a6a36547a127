package dev.salient.server.method;

/** A method parameter as clients see it in DescribeModel. */
public record ParameterSpec(String name, String description, String defaultValue) {}
