// The custom widgets' front ends, served with the site (lit_rnn.book.serve_widget_modules copies them
// from their Python packages): the widget manager loads them from here, never from a CDN.
window.requirejs.config({
  paths: { anywidget: document.currentScript.src.replace(/[^/]*$/, "") + "widgets/anywidget" },
});
