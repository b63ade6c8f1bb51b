// The sluice console: a single page over sluice's HTTP API (design.md §11).
import { render } from 'preact';
import './styles.css';
import { App } from './App.jsx';

const root = document.getElementById('app');
root.textContent = ''; // the <noscript> note
render(<App />, root);
