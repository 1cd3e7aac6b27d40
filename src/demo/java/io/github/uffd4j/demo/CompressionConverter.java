package io.github.uffd4j.demo;

import io.github.uffd4j.source.Compression;
import picocli.CommandLine;

import java.util.Locale;

/** The tools' {@code --compression}: zstd, lz4 or none, in any case. */
public final class CompressionConverter implements CommandLine.ITypeConverter<Compression> {

    @Override
    public Compression convert(String value) {
        try {
            return Compression.valueOf(value.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException("must be zstd, lz4 or none, not " + value);
        }
    }
}
