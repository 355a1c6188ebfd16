import http from 'node:http'; import net from 'node:net';
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';
// tiny CONNECT proxy to example target: plain http target server
const target = http.createServer((req,res)=>{res.end('hello '+req.url)}).listen(0,'127.0.0.1');
await new Promise(r=>target.once('listening',r));
let seen=[];
const proxy = http.createServer((req,res)=>{ seen.push(['req',req.url, req.headers['proxy-authorization']]); const u=new URL(req.url); const up=http.request({host:'127.0.0.1',port:target.address().port,path:u.pathname,method:req.method},r=>{res.writeHead(r.statusCode,r.headers); r.pipe(res)}); req.pipe(up);}).listen(0,'127.0.0.1');
await new Promise(r=>proxy.once('listening',r));
process.env.HTTP_PROXY = `http://authsome:tok%2Fen@127.0.0.1:${proxy.address().port}`;
setGlobalDispatcher(new EnvHttpProxyAgent());
const r = await fetch(`http://example.test:${target.address().port}/x`);
console.log(r.status, await r.text(), seen);
process.exit(0);
