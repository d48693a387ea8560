import type { JsonObject, ProviderMetadata } from '@longrun/core';

/** Metadata as the SDK types it (its JSON values may be `undefined`) or as longrun stores it. */
type MetadataLike = Record<string, Record<string, unknown>>;

/**
 * Provider metadata as plain JSON data, or undefined when there is none. The SDK's metadata is
 * JSON by type, but a provider may leave `undefined` in it, which the log would refuse: this is
 * what it would be after a JSON round trip, which is what every later reader sees.
 */
export function plainMetadata(metadata: MetadataLike | undefined): ProviderMetadata | undefined {
  if (metadata === undefined) return undefined;
  const plain = JSON.parse(JSON.stringify(metadata)) as ProviderMetadata;
  return Object.keys(plain).length === 0 ? undefined : plain;
}

/** Provider by provider, a later layer wins key by key; undefined when every layer is. */
export function mergeProviderMetadata(
  ...layers: (MetadataLike | undefined)[]
): ProviderMetadata | undefined {
  let merged: Record<string, JsonObject> | undefined;
  for (const layer of layers) {
    const plain = plainMetadata(layer);
    if (plain === undefined) continue;
    merged ??= {};
    for (const [provider, value] of Object.entries(plain)) {
      merged[provider] = { ...merged[provider], ...value };
    }
  }
  return merged;
}
