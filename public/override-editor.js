// The override editor's one behaviour htmx does not cover: a verdict belongs to the text it was given, so once
// the person types again it is taken down (back to the neutral hint) until the next pause or Check. Half-typed
// text is never shown as an error. Loaded from /static (CSP script-src 'self'): no inline handlers, no eval.
(() => {
  function isEditor(node) {
    return node instanceof HTMLTextAreaElement && node.id === 'definition';
  }

  /** The field's error styling follows the check block's state (server-rendered or swapped in by htmx). */
  function markField(area, problem) {
    var field = area.closest('.field');
    if (field) field.classList.toggle('field-invalid', problem);
    if (problem) area.setAttribute('aria-invalid', 'true');
    else area.removeAttribute('aria-invalid');
  }

  document.addEventListener('input', (event) => {
    var area = event.target;
    if (!isEditor(area)) return;
    var check = document.getElementById('definition-check');
    if (!check || check.getAttribute('data-state') === 'idle') return;
    check.setAttribute('data-state', 'idle');
    check.textContent = '';
    var hint = document.createElement('p');
    hint.className = 'field-hint';
    hint.textContent = check.getAttribute('data-idle-text') || '';
    check.appendChild(hint);
    markField(area, false);
  });

  document.addEventListener('htmx:afterSettle', () => {
    var area = document.getElementById('definition');
    var check = document.getElementById('definition-check');
    if (isEditor(area) && check) markField(area, check.getAttribute('data-state') === 'problem');
  });
})();
