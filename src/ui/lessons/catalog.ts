// The lessons, in the order the Learn menu lists them (ids are the `?lesson=` values).
import { labelsShift } from './content/labelsShift';
import { minus100 } from './content/minus100';
import { responseVsFull } from './content/responseVsFull';
import { maskedNotUntouched } from './content/maskedNotUntouched';
import { learningToStop } from './content/learningToStop';
import { normalisation } from './content/normalisation';
import { promptWeight } from './content/promptWeight';
import { templateTraps } from './content/templateTraps';
import type { Lesson } from './types';

export const LESSONS: readonly Lesson[] = [labelsShift, minus100, responseVsFull, maskedNotUntouched, learningToStop, normalisation, promptWeight, templateTraps];

const BY_ID = new Map(LESSONS.map((l) => [l.id, l]));
export const lessonById = (id: string): Lesson | undefined => BY_ID.get(id);
