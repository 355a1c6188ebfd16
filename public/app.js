// authsome's few behaviours that htmx does not cover: copy buttons, trimming pasted keys, dismissing messages,
// and saying so when the server cannot be reached. Loaded from /static (CSP script-src 'self'): no inline
// handlers anywhere, no eval, nothing from another origin.
(() => {
  document.documentElement.classList.add('js');

  function showFlash(kind, text) {
    var area = document.getElementById('flash');
    if (!area) return;
    area.textContent = '';
    var box = document.createElement('div');
    box.className = `flash flash-${kind}`;
    box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    var p = document.createElement('p');
    p.textContent = text;
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'flash-close';
    close.setAttribute('data-dismiss', '');
    close.setAttribute('aria-label', 'Dismiss');
    close.textContent = '×';
    box.appendChild(p);
    box.appendChild(close);
    area.appendChild(box);
  }

  document.addEventListener('click', (event) => {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var copy = target.closest('[data-copy]');
    if (copy) {
      var source = document.getElementById(copy.getAttribute('data-copy'));
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent.trim()).then(
        () => {
          var label = copy.textContent;
          copy.textContent = 'Copied';
          copy.classList.add('is-done');
          setTimeout(() => {
            copy.textContent = label;
            copy.classList.remove('is-done');
          }, 1500);
        },
        () => {
          showFlash('error', 'Could not copy: the browser refused access to the clipboard.');
        },
      );
      return;
    }
    var dismiss = target.closest('[data-dismiss]');
    if (dismiss) {
      var flash = dismiss.closest('.flash');
      if (flash) flash.remove();
    }
  });

  // A key pasted with a stray space or line break: the server trims too, and so the field's own
  // pattern check agrees with it.
  function trim(input) {
    if (input.value !== input.value.trim()) input.value = input.value.trim();
  }
  document.addEventListener('paste', (event) => {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.hasAttribute('data-trim'))
      setTimeout(() => {
        trim(input);
      }, 0);
  });
  document.addEventListener('change', (event) => {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.hasAttribute('data-trim')) trim(input);
  });

  document.addEventListener('htmx:sendError', () => {
    showFlash('error', 'The authsome server is not answering. Is it still running? (authsome daemon status)');
  });
})();
