// "Discard the runs?" A modal <dialog> (focus trapped, Escape cancels): Discard applies the held
// change after discarding; Cancel keeps the runs and drops the change.
import { useStore } from '../../store';
import { memo, useEffect, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { useMessage } from '../i18n/useMessage';

export const ConfirmDiscard = memo(function ConfirmDiscard() {
  const confirm = useStore((s) => s.confirm);
  const confirmDiscard = useStore((s) => s.confirmDiscard);
  const cancelDiscard = useStore((s) => s.cancelDiscard);
  const ref = useRef<HTMLDialogElement>(null);
  const { t } = useTranslation('train');
  const say = useMessage();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (confirm && !d.open) d.showModal();
    if (!confirm && d.open) d.close();
  }, [confirm]);
  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      data-testid="confirm-discard"
      aria-labelledby="confirm-h"
      onCancel={(e) => {
        e.preventDefault();
        cancelDiscard();
      }}
    >
      <h3 id="confirm-h">{t('discard.title')}</h3>
      <p>{say(confirm?.message)}</p>
      <div className="dialog-actions">
        <button type="button" onClick={cancelDiscard} data-testid="confirm-cancel" autoFocus>
          {t('discard.cancel')}
        </button>
        <button type="button" className="danger" onClick={confirmDiscard} data-testid="confirm-discard-ok">
          {t('discard.ok')}
        </button>
      </div>
    </dialog>
  );
});
