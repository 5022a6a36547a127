/** Method-specific figures the command-line client writes beside the map files. */
package dev.salient.client.figures;
