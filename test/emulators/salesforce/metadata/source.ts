/**
 * Source format → a Metadata API package, for deploying `force-app` in-process (tests start
 * many emulators). The conversion is source-deploy-retrieve's own (ComponentSet.fromSource +
 * MetadataConverter, what `sf project deploy start` sends), so the in-process path and the CLI
 * path hand the same package to the same validator. Loading SDR and converting costs about 1.3 s,
 * so the converted files are cached in the OS temp folder, keyed by the SHA-256 of every source
 * file (path and bytes): any edit to the source makes a new entry.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import type * as Sdr from '@salesforce/source-deploy-retrieve';

const CACHE_DIR = path.join(tmpdir(), 'custompms-sf-emulator-cache', 'mdapi-v1');
const memory = new Map<string, Map<string, string>>();

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? filesUnder(full) : [full];
    });
}

/** The package (zip path → text) for a source-format directory such as `force-app/main/default`. */
export async function convertSource(dir: string): Promise<Map<string, string>> {
  const hash = createHash('sha256').update('sdr-13\0');
  for (const file of filesUnder(dir)) {
    hash.update(path.relative(dir, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  const key = hash.digest('hex');
  const cached = memory.get(key);
  if (cached) return cached;
  const cacheFile = path.join(CACHE_DIR, `${key}.json`);
  try {
    const entries = JSON.parse(readFileSync(cacheFile, 'utf8')) as [string, string][];
    const files = new Map(entries);
    memory.set(key, files);
    return files;
  } catch {
    // not converted yet
  }
  // Loaded lazily: most starts hit the cache and never pay for SDR.
  // (require, not import(): jest runs CommonJS without --experimental-vm-modules.)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ComponentSet, MetadataConverter } = require('@salesforce/source-deploy-retrieve') as typeof Sdr;
  const set = ComponentSet.fromSource(dir);
  const converted = await new MetadataConverter().convert(set, 'metadata', { type: 'zip' });
  if (!converted.zipBuffer) throw new Error(`source-deploy-retrieve produced no zip for ${dir}`);
  const zip = await JSZip.loadAsync(converted.zipBuffer);
  const files = new Map<string, string>();
  for (const entry of Object.values(zip.files)) {
    if (!entry.dir) files.set(entry.name, await entry.async('string'));
  }
  memory.set(key, files);
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    // Write then rename, so a parallel reader never sees half a file.
    const partial = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify([...files]));
    renameSync(partial, cacheFile);
  } catch {
    // a read-only temp folder only costs speed
  }
  return files;
}
