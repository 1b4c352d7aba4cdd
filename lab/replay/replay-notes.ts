/**
 * What a replay says when it does not run on what the recorded run ran on: another swarmlab version, other
 * images, another engine or network enforcement. A note, not a refusal: replaying a run on new code is
 * how one checks what the new code changed.
 */
import type { RecordedImage, RunRecord } from './run-record';

function imageNote(role: string, recorded: RecordedImage | undefined, current: RecordedImage | undefined): string[] {
  if (recorded === undefined || current === undefined || recorded.id === current.id) return [];
  return [
    `note: the ${role} image differs from the recorded run's (${recorded.id ?? 'unknown'} then, ${current.id ?? 'unknown'} now)`,
  ];
}

/** Notes known before the replay starts: the version of swarmlab. */
export function versionNotes(recorded: RunRecord, currentVersion: string): string[] {
  return recorded.swarmlabVersion === currentVersion
    ? []
    : [`note: the recorded run used swarmlab ${recorded.swarmlabVersion}, this is ${currentVersion}`];
}

/** Notes once the replay's own record exists: images, engine and network enforcement. */
export function environmentNotes(recorded: RunRecord, replayed: RunRecord): string[] {
  const notes = [
    ...imageNote('tracker', recorded.images?.tracker, replayed.images?.tracker),
    ...imageNote('peer', recorded.images?.peer, replayed.images?.peer),
  ];
  if (recorded.engine !== replayed.engine) {
    notes.push(`note: the recorded run used --engine ${recorded.engine}, this one ${replayed.engine}`);
  }
  const changed = Object.keys({ ...recorded.enforcement, ...replayed.enforcement }).filter(
    (key) =>
      recorded.enforcement[key as keyof RunRecord['enforcement']] !==
      replayed.enforcement[key as keyof RunRecord['enforcement']],
  );
  if (changed.length > 0)
    notes.push(`note: this host enforces ${changed.join(', ')} differently from the recorded run's`);
  return notes;
}
