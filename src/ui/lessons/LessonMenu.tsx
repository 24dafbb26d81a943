// The header's "Learn" button: the list of guided lessons (a disclosure: Escape or a click outside closes it).
import { useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useStore } from '../../store';
import { LESSONS } from './catalog';

export function LessonMenu() {
  const { t } = useTranslation('lessons');
  const [open, setOpen] = useState(false);
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const openLesson = useStore((s) => s.openLesson);
  useEffect(() => {
    if (!open) return;
    const away = (e: Event) => !box.current?.contains(e.target as Node) && setOpen(false);
    const key = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      setOpen(false);
      button.current?.focus();
    };
    addEventListener('pointerdown', away);
    addEventListener('keydown', key);
    return () => {
      removeEventListener('pointerdown', away);
      removeEventListener('keydown', key);
    };
  }, [open]);
  return (
    <div className="learn" ref={box}>
      <button type="button" ref={button} aria-expanded={open} aria-controls={id} onClick={() => setOpen((o) => !o)} data-testid="learn">
        {t('ui.learn')}
      </button>
      {open && (
        <ul id={id} className="learn-list" aria-label={t('ui.lessons')}>
          {LESSONS.map((l) => (
            <li key={l.id}>
              <button
                type="button"
                data-testid={`learn-${l.id}`}
                onClick={() => {
                  setOpen(false);
                  openLesson(l.id);
                }}
              >
                {t(`${l.id}.title`)}
                <small>{t(`${l.id}.summary`)}</small>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
