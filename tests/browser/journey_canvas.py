"""What the journey canvas's browser tests share."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def no_sideways_scroll(page: Page) -> None:
    """Nothing in the journey's own content reaches past the viewport's right edge
    (the flow scrolls inside its own box where it must)."""
    overflow = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const main = document.querySelector('main');
          return [...main.querySelectorAll('*')]
            .filter((e) => !e.closest('.jc-canvas') || e.classList.contains('jc-canvas'))
            .filter((e) => e.getBoundingClientRect().right > width + 1 && e.offsetParent !== null)
            .map((e) => e.tagName + '.' + e.className);
        }"""
    )
    assert overflow == []
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


def add_step(page: Page, where: str, kind: str) -> None:
    page.get_by_role("button", name=f"Add a step {where}").click()
    page.locator(f".jc-menu [data-add-step={kind}]").click()
    expect(page.locator("#journey-panel")).to_be_visible()


def every_input_labelled(page: Page) -> None:
    """Every visible input, select and textarea of the journey form has a name a screen
    reader reads: a label around it or for it, or an aria-label."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll(
              '#journey-form input, #journey-form select, #journey-form textarea')]
            .filter((e) => e.type !== 'hidden' && e.offsetParent !== null)
            .filter((e) => !e.closest('label') && !e.getAttribute('aria-label')
              && !(e.id && document.querySelector(`label[for="${e.id}"]`)))
            .map((e) => e.outerHTML)"""
    )
    assert unlabelled == []
