"""Text helpers shared by the steps: normalising, sentences and words, language, header lines, hashing."""
