// An unmodified agent on axios (which reads HTTPS_PROXY itself): GET the model list with the key from the environment.
import axios from 'axios';

const res = await axios.get('https://api.openai.com/v1/models', {
  headers: { authorization: `Bearer ${process.env.OPENAI_API_KEY}` },
  timeout: 15_000,
});
console.log(JSON.stringify({ status: res.status, object: res.data.object, sent: process.env.OPENAI_API_KEY }));
