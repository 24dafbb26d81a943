// Saving Blobs as files through download links. No zip: each file is its own download, one after
// another (Chrome may drop a download that starts right after another one).
import type { ExportedFile } from '../../worker/trainProtocol';

const DOWNLOAD_GAP_MS = 250;
/** Object URLs live this long: the browser reads the Blob when the download starts, not at click time. */
const REVOKE_AFTER_MS = 60_000;

export async function downloadFiles(files: readonly ExportedFile[]): Promise<void> {
  for (const [i, f] of files.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, DOWNLOAD_GAP_MS));
    const a = document.createElement('a');
    a.href = URL.createObjectURL(f.blob);
    a.download = f.name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), REVOKE_AFTER_MS);
  }
}
